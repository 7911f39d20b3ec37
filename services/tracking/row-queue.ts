/**
 * A fixed-capacity double-ended queue (ring buffer): O(1) push, shift and unshift, no array
 * re-indexing when 50 000 rows wait out a database outage.
 */
export class RowQueue<T> {
  private readonly items: Array<T | undefined>
  private head = 0
  private size = 0

  constructor (readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity)
  }

  get length (): number {
    return this.size
  }

  get full (): boolean {
    return this.size === this.capacity
  }

  /** Appends; the caller makes room first (shift) when full. */
  push (item: T): void {
    if (this.size === this.capacity) throw new Error('RowQueue is full')
    this.items[(this.head + this.size) % this.capacity] = item
    this.size++
  }

  shift (): T | undefined {
    if (this.size === 0) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) % this.capacity
    this.size--
    return item
  }

  /** Removes and returns up to `n` items from the front, oldest first. */
  take (n: number): T[] {
    const count = Math.min(n, this.size)
    const out = new Array<T>(count)
    for (let i = 0; i < count; i++) out[i] = this.shift()!
    return out
  }

  /** Puts items back at the front, in their order, as far as there is room; returns how many did not fit. */
  unshiftAll (items: T[]): number {
    let i = items.length - 1
    for (; i >= 0 && this.size < this.capacity; i--) {
      this.head = (this.head - 1 + this.capacity) % this.capacity
      this.items[this.head] = items[i]
      this.size++
    }
    return i + 1
  }
}
