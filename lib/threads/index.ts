export { ThreadLanes } from './thread-lanes.js';
export type { ThreadLanesOptions } from './thread-options.js';
export type { ThreadTaskContext } from './thread-task-context.js';
export {
  AbortReasonNotCloneableError,
  PayloadNotCloneableError,
  ThreadStartError,
  WorkerThreadExitedError,
} from './thread.errors.js';
export { transfer } from './transfer.js';
export { SESSION_MEMORY } from './session-memory.js';
