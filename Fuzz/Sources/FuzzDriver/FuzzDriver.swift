import CLibFuzzer
import CutoverFuzzing
import Glibc

/// The callback libFuzzer calls per input: a broken invariant traps, so libFuzzer records the input
/// as a crash exactly as it does for a trap inside the code under test.
public func fuzzOne(_ target: FuzzTarget, _ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    do {
        try target.run(UnsafeRawBufferPointer(start: data, count: size))
    } catch {
        fatalError("\(target.rawValue): \(error)")
    }
    return 0
}

/// Hands the process to libFuzzer. SwiftPM links an executable's top-level code as `main`, ahead of
/// libFuzzer's own, so each harness calls this from there with its exported callback.
public func runLibFuzzer(_ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(cutover_fuzz_run(&argc, &argv, callback))
}
