import CutoverFuzzing
import CutoverTestSupport
import Foundation
import Testing

/// The fuzz harnesses in the normal suite: every seed, and every input that ever made a fuzzer
/// fail (`Fuzz/Regressions/<target>/`, kept when the bug is fixed), passes its harness's
/// invariants. `make test` also runs each harness under libFuzzer for a short while.
@Suite struct CorpusReplayTests {
    /// Where a target's seeds and regressions live, as `scripts/fuzz.sh` lists them.
    static func inputDirectories(_ target: FuzzTarget) -> [String] {
        let seeds: [String] = switch target {
        case .http1Request, .http1Response, .http2Server: ["Fuzz/Corpus/\(target.rawValue)"]
        case .json, .webhook: ["fixtures/cloud", "fixtures/cloud-2026", "fixtures/onprem"]
        case .config: ["Fuzz/Corpus/config", "deploy"]
        }
        return seeds + ["Fuzz/Regressions/\(target.rawValue)"]
    }

    static func inputs(_ target: FuzzTarget) throws -> [(name: String, bytes: [UInt8])] {
        var out: [(String, [UInt8])] = []
        for directory in inputDirectories(target) {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: Repo.path(directory))) ?? []
            // deploy/ also holds folders (compose/, kubernetes/, nginx/): their files are not seeds.
            for name in names.sorted() where !Self.isDirectory(Repo.path("\(directory)/\(name)")) {
                out.append(("\(directory)/\(name)", Array(try Data(contentsOf: Repo.url("\(directory)/\(name)")))))
            }
        }
        return out
    }

    static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }

    @Test(arguments: FuzzTarget.allCases)
    func everySeedAndRegressionPasses(_ target: FuzzTarget) throws {
        let inputs = try Self.inputs(target)
        #expect(inputs.count >= 4, "\(target.rawValue) has almost no seeds")
        for (name, bytes) in inputs {
            do throws(FuzzFailure) {
                try target.run(bytes)
            } catch {
                Issue.record("\(target.rawValue) \(name): \(error)")
            }
        }
    }

    /// Every target has its executable in the fuzz package and a row in the script that runs it.
    @Test func theFuzzPackageAndScriptNameEveryTarget() throws {
        let manifest = try String(contentsOfFile: Repo.path("Fuzz/Package.swift"), encoding: .utf8)
        let script = try String(contentsOfFile: Repo.path("scripts/fuzz.sh"), encoding: .utf8)
        for target in FuzzTarget.allCases {
            #expect(manifest.contains("\"\(target.rawValue)\""), "Fuzz/Package.swift lacks \(target.rawValue)")
            #expect(script.contains(target.rawValue), "scripts/fuzz.sh lacks \(target.rawValue)")
            let main = try String(contentsOfFile: Repo.path("Fuzz/Sources/fuzz-\(target.rawValue)/main.swift"), encoding: .utf8)
            #expect(main.contains("fuzzOne(.\(target)"), "fuzz-\(target.rawValue) runs another harness")
        }
    }
}
