import CutoverWebhooks
import Testing

@Suite struct BoundedRecentMapTests {
    @Test func theOldestInsertionMakesRoomAndTheFirstValueStays() {
        var map = BoundedRecentMap<String, Int>(capacity: 3)
        for (index, key) in ["a", "b", "c"].enumerated() { map.insertIfAbsent(index, for: key) }
        map.insertIfAbsent(99, for: "a")
        #expect(map["a"] == 0, "a key present already keeps its first value")
        #expect(map.count == 3)

        map.insertIfAbsent(3, for: "d")
        #expect(map["a"] == nil, "the oldest insertion goes first, even though it was asked for again")
        #expect(map["b"] == 1 && map["c"] == 2 && map["d"] == 3)
        map.insertIfAbsent(4, for: "e")
        map.insertIfAbsent(5, for: "f")
        #expect(map["b"] == nil && map["c"] == nil)
        #expect(map["d"] == 3 && map["e"] == 4 && map["f"] == 5)
        #expect(map.count == 3)
    }

    @Test func capacityZeroKeepsNothing() {
        var map = BoundedRecentMap<String, Int>(capacity: 0)
        map.insertIfAbsent(1, for: "a")
        #expect(map["a"] == nil)
        #expect(map.count == 0)
    }
}
