export {
  MESSAGING_SYSTEM,
  TASK_SPAN_NAME,
  type TaskTracingOptions,
  activeTraceparent,
  tracePoolTasks,
} from './task-tracer.js';
export { parseTraceparent } from './thread-context.js';
