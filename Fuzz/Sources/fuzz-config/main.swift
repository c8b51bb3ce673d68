import CutoverFuzzing
import FuzzDriver

// libFuzzer's own main, linked in too, looks this symbol up; runLibFuzzer passes it explicitly.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzOne(.config, data, size)
}

runLibFuzzer(testOneInput)
