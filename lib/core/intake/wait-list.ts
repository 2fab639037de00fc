/**
 * Doubly linked FIFO whose nodes can leave from anywhere in O(1): callers waiting for
 * queue room leave it when their AbortSignal fires.
 */
export class WaitNode {
  prev: WaitNode | undefined = undefined;
  next: WaitNode | undefined = undefined;
  list: WaitList | undefined = undefined;
}

export class WaitList<N extends WaitNode = WaitNode> {
  private head: N | undefined = undefined;
  private tail: N | undefined = undefined;
  length = 0;

  push(node: N): void {
    node.list = this;
    node.prev = this.tail;
    node.next = undefined;
    if (this.tail === undefined) this.head = node;
    else this.tail.next = node;
    this.tail = node;
    this.length++;
  }

  peek(): N | undefined {
    return this.head;
  }

  shift(): N | undefined {
    const node = this.head;
    if (node !== undefined) this.remove(node);
    return node;
  }

  remove(node: N): void {
    if (node.list !== this) return;
    if (node.prev === undefined) this.head = node.next as N | undefined;
    else node.prev.next = node.next;
    if (node.next === undefined) this.tail = node.prev as N | undefined;
    else node.next.prev = node.prev;
    node.prev = node.next = node.list = undefined;
    this.length--;
  }
}
