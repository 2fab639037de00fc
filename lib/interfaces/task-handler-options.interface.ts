export interface TaskHandlerOptions {
  /** The pool whose tasks of this type the method handles. Default: 'default'. */
  pool?: string;
}
