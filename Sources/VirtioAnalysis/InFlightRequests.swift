import TraceSources

/// A popped element the device has not filled yet.
struct Request: Sendable {
    var popTime: Int64?
    var line: Int
    /// How many device-readable and device-writable buffers QEMU mapped at the pop
    /// (`out_num`, `in_num`).
    var shape: ChainShape
    /// The device was reset while the request was in flight; its completion is the reset draining it.
    var draining = false
}

/// The requests in flight on one queue, by QEMU's `elem` pointer.
///
/// Every pop adds one and nearly every fill removes one, and most queues hold a handful at a
/// time: the first `inlineCapacity` live in an array searched in place, the rest in a
/// dictionary, so the common case costs no hashing.
struct InFlightRequests: Sendable {
    static let inlineCapacity = 8
    private var elems: [HostPointer] = []
    private var requests: [Request] = []
    private var overflow: [HostPointer: Request] = [:]

    var count: Int { self.elems.count + self.overflow.count }

    private func inlineIndex(of elem: HostPointer) -> Int? {
        self.elems.withUnsafeBufferPointer { elems in
            for index in elems.indices where elems[index] == elem { return index }
            return nil
        }
    }

    func contains(_ elem: HostPointer) -> Bool {
        self.inlineIndex(of: elem) != nil || (!self.overflow.isEmpty && self.overflow[elem] != nil)
    }

    /// Adds the request, or replaces the one already held for `elem`.
    mutating func set(_ request: Request, for elem: HostPointer) {
        if let index = self.inlineIndex(of: elem) {
            self.requests[index] = request
        } else if !self.overflow.isEmpty, self.overflow[elem] != nil {
            self.overflow[elem] = request
        } else if self.elems.count < Self.inlineCapacity {
            self.elems.append(elem)
            self.requests.append(request)
        } else {
            self.overflow[elem] = request
        }
    }

    /// Removes and returns the request for `elem`, if one is in flight.
    mutating func remove(_ elem: HostPointer) -> Request? {
        if let index = self.inlineIndex(of: elem) {
            // The last entry takes the freed place: order does not matter.
            let request = self.requests[index]
            self.elems[index] = self.elems[self.elems.count - 1]
            self.requests[index] = self.requests[self.requests.count - 1]
            self.elems.removeLast()
            self.requests.removeLast()
            return request
        }
        return self.overflow.isEmpty ? nil : self.overflow.removeValue(forKey: elem)
    }

    /// A reset: every request in flight is now drained by it.
    mutating func markDraining() {
        for index in self.requests.indices { self.requests[index].draining = true }
        var index = self.overflow.startIndex
        while index != self.overflow.endIndex {
            self.overflow.values[index].draining = true
            self.overflow.formIndex(after: &index)
        }
    }

    /// The driver started over: the requests the reset drained are gone.
    mutating func removeDrained() {
        var kept = InFlightRequests()
        for (elem, request) in zip(self.elems, self.requests) where !request.draining { kept.set(request, for: elem) }
        for (elem, request) in self.overflow where !request.draining { kept.set(request, for: elem) }
        self = kept
    }

    /// The line of the oldest request still in flight.
    var oldestLine: Int? {
        (self.requests.lazy.map(\.line) + self.overflow.values.lazy.map(\.line)).min()
    }
}
