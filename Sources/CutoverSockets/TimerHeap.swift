/// A loop's pending timers, earliest first: a binary min-heap whose entries know their place, so a
/// cancelled timer leaves at once (O(log n)) instead of waiting in the heap, holding its work,
/// until its deadline passes. Equal deadlines come out in the order they were scheduled.
struct TimerHeap<Entry: TimerHeapEntry> {
    private var entries: [Entry] = []

    var first: Entry? { entries.first }
    var count: Int { entries.count }

    mutating func insert(_ entry: Entry) {
        entry.heapIndex = entries.count
        entries.append(entry)
        siftUp(entries.count - 1)
    }

    /// Removes `entry` if it is still in the heap; false when it already left.
    @discardableResult
    mutating func remove(_ entry: Entry) -> Bool {
        let index = entry.heapIndex
        guard index >= 0, index < entries.count, entries[index] === entry else { return false }
        let last = entries.count - 1
        if index != last {
            entries.swapAt(index, last)
            entries[index].heapIndex = index
        }
        entries.removeLast()
        entry.heapIndex = -1
        if index < entries.count {
            siftDown(index)
            siftUp(index)
        }
        return true
    }

    mutating func popFirst() -> Entry? {
        guard let first = entries.first else { return nil }
        remove(first)
        return first
    }

    private static func precedes(_ a: Entry, _ b: Entry) -> Bool {
        (a.deadline, a.sequence) < (b.deadline, b.sequence)
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(entries[child], entries[parent]) else { return }
            swap(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < entries.count else { return }
            let right = left + 1
            var smallest = left
            if right < entries.count, Self.precedes(entries[right], entries[left]) { smallest = right }
            guard Self.precedes(entries[smallest], entries[parent]) else { return }
            swap(smallest, parent)
            parent = smallest
        }
    }

    private mutating func swap(_ a: Int, _ b: Int) {
        entries.swapAt(a, b)
        entries[a].heapIndex = a
        entries[b].heapIndex = b
    }
}

/// What the heap orders: a deadline (uptime nanoseconds), a tie-breaking sequence number, and the
/// entry's current index (-1 when it is not in a heap), which only the heap writes.
protocol TimerHeapEntry: AnyObject {
    var deadline: UInt64 { get }
    var sequence: UInt64 { get }
    var heapIndex: Int { get set }
}
