import type { TaskPolicyOptions } from '../core/task-policy.js';

/** Handler defaults; `submit` options override them per task. */
export interface TaskHandlerOptions extends TaskPolicyOptions {
  /** The pool whose tasks of this type the method handles. Default: 'default'. */
  pool?: string;
}
