import {
  Observable,
  type Observer,
  type Operator,
  type Subscriber,
  type Subscription,
  type TeardownLogic,
} from 'rxjs';

/**
 * The `events$` Observable. Each subscriber's observer is wrapped so that what it throws
 * (or an operator of its pipe, through the error channel it did not handle) goes to the
 * pool's `onSubscriberError` instead of rxjs's unhandled-error report, which rethrows on a
 * timer and ends the process. No global rxjs setting is touched: the app owns those.
 *
 * Invariant: every Observable piped from it is an EventStream too (`lift`), so the wrap
 * applies wherever the user finally subscribes; rxjs's own subscribers pass through.
 */
export class EventStream<T> extends Observable<T> {
  constructor(
    private readonly report: (
      cause: unknown,
      value: unknown,
      channel: 'next' | 'error' | 'complete',
    ) => void,
    subscribe?: (this: Observable<T>, subscriber: Subscriber<T>) => TeardownLogic,
  ) {
    super(subscribe);
  }

  override lift<R>(operator?: Operator<T, R>): Observable<R> {
    const lifted = new EventStream<R>(this.report);
    lifted.source = this;
    lifted.operator = operator;
    return lifted;
  }

  override subscribe(
    observerOrNext?: Partial<Observer<T>> | ((value: T) => void) | null,
    error?: ((error: unknown) => void) | null,
    complete?: (() => void) | null,
  ): Subscription {
    if (isSubscriber(observerOrNext)) return super.subscribe(observerOrNext);
    const o: Partial<Observer<T>> =
      typeof observerOrNext === 'function' || observerOrNext == null
        ? {
            next: observerOrNext ?? undefined,
            error: error ?? undefined,
            complete: complete ?? undefined,
          }
        : observerOrNext;
    const report = this.report;
    return super.subscribe({
      next(value) {
        try {
          o.next?.(value);
        } catch (e) {
          report(e, value, 'next');
        }
      },
      error(err) {
        if (o.error === undefined) return report(err, undefined, 'error');
        try {
          o.error(err);
        } catch (e) {
          report(e, undefined, 'error');
        }
      },
      complete() {
        try {
          o.complete?.();
        } catch (e) {
          report(e, undefined, 'complete');
        }
      },
    });
  }
}

// rxjs's own test: operators subscribe to their source with a Subscriber, which must not be wrapped.
function isSubscriber(value: unknown): value is Observer<unknown> & Subscription {
  const v = value as Record<string, unknown> | null | undefined;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.next === 'function' &&
    typeof v.error === 'function' &&
    typeof v.complete === 'function' &&
    typeof v.unsubscribe === 'function' &&
    typeof v.add === 'function' &&
    typeof v.remove === 'function'
  );
}
