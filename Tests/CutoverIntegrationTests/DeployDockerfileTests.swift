import CutoverTestSupport
import Foundation
import Testing

/// deploy/Dockerfile, with no container engine at hand: hadolint, and the runtime stage's packages
/// held to what the binary links.
///
/// The library rule: every shared library the binary names (`NEEDED`) is either part of the Swift
/// toolchain (linked in by the build stage's `--static-swift-stdlib`, so absent at run time), or
/// belongs to a Debian package (`dpkg -S`). The runtime stage installs exactly those packages,
/// less the ones every Debian image has (libc6, libgcc-s1, libstdc++6), plus ca-certificates (not a
/// library: the system CA store https destinations are verified against). What those libraries
/// load in turn (`ldd`'s whole list: libpq's Kerberos and LDAP, say) must come with them, as the
/// packages' own dependencies, which apt installs.
///
/// The binary is $CUTOVER_RELEASE_BINARY when set (built as the Dockerfile builds it:
/// `swift build -c release --static-swift-stdlib`), else the debug build the suite runs: the two
/// link the same system libraries (the link flags come from Package.swift, not the configuration).
struct DeployDockerfileTests {
    static let basePackages: Set<String> = ["libc6", "libgcc-s1", "libstdc++6"]
    static let nonLibraryPackages: Set<String> = ["ca-certificates"]

    static var binary: String {
        let release = ProcessInfo.processInfo.environment["CUTOVER_RELEASE_BINARY"] ?? ""
        return release.isEmpty ? cutoverBinary : release
    }

    @Test func hadolintFindsNothing() throws {
        let result = try runCommand(try Deploy.tool("hadolint"), [Deploy.path("Dockerfile")])
        #expect(result.status == 0 && result.output.isEmpty, "hadolint: \(result.output)\(result.error)")
    }

    /// The check above could fail: hadolint flags the faults it is there for.
    @Test func hadolintFlagsAnUnpinnedBaseAndRootUser() throws {
        let directory = try TemporaryDirectory(prefix: "cutover-hadolint")
        let dockerfile = directory.path("Dockerfile")
        try "FROM debian\nRUN apt-get install -y curl\nUSER root\nCMD curl localhost\n".write(toFile: dockerfile, atomically: true, encoding: .utf8)
        let result = try runCommand(try Deploy.tool("hadolint"), [dockerfile])
        #expect(result.status != 0)
        for rule in ["DL3006", "DL3008", "DL3015", "DL3002"] {
            #expect(result.output.contains(rule), "hadolint: \(result.output)")
        }
    }

    @Test func theRuntimeStageInstallsExactlyThePackagesOfTheLinkedLibraries() throws {
        let dockerfile = try Dockerfile(path: Deploy.path("Dockerfile"))
        let installed = Set(try #require(dockerfile.stages.last).installedPackages)
        let linked = try Self.linkedPackages(of: Self.binary)
        let direct = try Self.directPackages(of: Self.binary)
        let expected = direct.subtracting(Self.basePackages).union(Self.nonLibraryPackages)
        #expect(installed == expected, "installed \(installed.sorted()), the binary's libraries need \(expected.sorted()) (NEEDED of \(Self.binary))")
        #expect(!direct.isEmpty)
        let broughtAlong = try Self.dependencyClosure(of: installed)
        let missing = linked.debian.subtracting(broughtAlong).subtracting(Self.basePackages)
        #expect(missing.isEmpty, "ldd loads libraries of \(missing.sorted()), which no installed package depends on")
        // The toolchain's libraries are left out only because the build links them in.
        if !linked.toolchain.isEmpty {
            #expect(dockerfile.stages.first?.runs.contains { $0.contains("swift build") && $0.contains("--static-swift-stdlib") } == true)
        }
    }

    @Test func theBuildStageInstallsTheMakefilesBuildLibraries() throws {
        let dockerfile = try Dockerfile(path: Deploy.path("Dockerfile"))
        let makefile = try String(contentsOfFile: Repo.path("Makefile"), encoding: .utf8)
        let line = try #require(makefile.split(separator: "\n").first { $0.hasPrefix("BUILD_PACKAGES") })
        let buildPackages = line.split(separator: "=", maxSplits: 1)[1].split(separator: " ").map(String.init)
        let stage = try #require(dockerfile.stages.first)
        #expect(stage.base.hasPrefix("swift:6.3"), "build stage is \(stage.base)")
        #expect(Set(stage.installedPackages) == Set(buildPackages), "build stage installs \(stage.installedPackages)")
    }

    @Test func theImageRunsUnprivilegedWithItsSpoolOnAVolumeAndAHealthcheck() throws {
        let dockerfile = try Dockerfile(path: Deploy.path("Dockerfile"))
        let runtime = try #require(dockerfile.stages.last)
        #expect(runtime.base == "debian:bookworm-slim")
        let user = try #require(runtime.last("USER"))
        #expect(!["root", "0", "0:0"].contains(user) && !user.hasPrefix("0:"), "USER \(user)")
        #expect(runtime.last("STOPSIGNAL") == "SIGTERM")
        let environment = runtime.environment
        let spool = try #require(environment["CUTOVER_SPOOL"])
        #expect(runtime.last("VOLUME")?.contains("\"\(spool)\"") == true, "VOLUME \(runtime.last("VOLUME") ?? "none") vs spool \(spool)")
        let port = try #require(environment["CUTOVER_LISTEN"]?.split(separator: ":").last.map(String.init))
        #expect(runtime.last("EXPOSE")?.split(separator: " ").map(String.init).contains(port) == true)
        // Exec form (no shell in the image): the binary's own probe on the port it listens on.
        let healthcheck = try #require(runtime.last("HEALTHCHECK"))
        #expect(healthcheck.contains("CMD [\"/usr/local/bin/cutover\", \"healthcheck\", \"--url\", \"http://127.0.0.1:\(port)/healthz\""), "\(healthcheck)")
        #expect(runtime.last("ENTRYPOINT") == "[\"/usr/local/bin/cutover\"]")
    }

    /// The Debian packages of the libraries `binary` loads, and the libraries from the Swift toolchain.
    /// The Debian packages of the libraries the binary itself names (readelf's NEEDED entries,
    /// found where ldd resolved them), toolchain libraries left out.
    static func directPackages(of binary: String) throws -> Set<String> {
        let readelf = try runCommand("/usr/bin/readelf", ["-d", binary])
        guard readelf.status == 0 else { throw TestFailure("readelf -d \(binary): \(readelf.error)") }
        let needed = Set(readelf.output.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("(NEEDED)"), let open = line.firstIndex(of: "["), let close = line.lastIndex(of: "]") else { return nil }
            return String(line[line.index(after: open)..<close])
        })
        let ldd = try runCommand("/usr/bin/ldd", [binary])
        let toolchainRoot = try Self.toolchainLibraryRoot()
        var packages: Set<String> = []
        for line in ldd.output.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard let name = fields.first, let path = fields.first(where: { $0.hasPrefix("/") }),
                needed.contains(name) || needed.contains(URL(fileURLWithPath: path).lastPathComponent)
            else { continue }
            if URL(fileURLWithPath: path).resolvingSymlinksInPath().path.hasPrefix(toolchainRoot) { continue }
            packages.insert(try Self.debianPackage(owning: path))
        }
        return packages
    }

    /// `packages` and everything they depend on, as dpkg records the installed packages' Depends.
    static func dependencyClosure(of packages: Set<String>) throws -> Set<String> {
        var closure: Set<String> = []
        var pending = Array(packages)
        while let package = pending.popLast() {
            guard closure.insert(package).inserted else { continue }
            let result = try runCommand("/usr/bin/dpkg-query", ["-W", "-f=${Depends}, ${Pre-Depends}", package])
            guard result.status == 0 else { continue }  // not installed here (ca-certificates may be absent)
            for alternative in result.output.split(separator: ",") {
                for choice in alternative.split(separator: "|") {
                    let name = choice.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? ""
                    let bare = name.split(separator: ":").first.map(String.init) ?? name
                    if !bare.isEmpty { pending.append(bare) }
                }
            }
        }
        return closure
    }

    static func linkedPackages(of binary: String) throws -> (debian: Set<String>, toolchain: Set<String>) {
        let ldd = try runCommand("/usr/bin/ldd", [binary])
        guard ldd.status == 0 else { throw TestFailure("ldd \(binary): \(ldd.error)") }
        let toolchainRoot = try Self.toolchainLibraryRoot()
        var debian: Set<String> = []
        var toolchain: Set<String> = []
        for line in ldd.output.split(separator: "\n") {
            // `libssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x...)`, or the loader by its path alone.
            let fields = line.split(separator: " ").map(String.init)
            guard let path = fields.first(where: { $0.hasPrefix("/") }) else { continue }  // linux-vdso
            let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            if resolved.hasPrefix(toolchainRoot) {
                toolchain.insert(resolved)
                continue
            }
            debian.insert(try Self.debianPackage(owning: path))
        }
        return (debian, toolchain)
    }

    /// The package `dpkg -S` names for `path`, tried as given and with its symlinks resolved
    /// (merged /usr: ldd may say /lib where dpkg recorded /usr/lib, or the other way round).
    static func debianPackage(owning path: String) throws -> String {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        var candidates = [path, resolved]
        for candidate in [path, resolved] where candidate.hasPrefix("/usr/") { candidates.append(String(candidate.dropFirst(4))) }
        for candidate in [path, resolved] where candidate.hasPrefix("/lib") { candidates.append("/usr" + candidate) }
        for candidate in candidates {
            let result = try runCommand("/usr/bin/dpkg", ["-S", candidate])
            guard result.status == 0, let line = result.output.split(separator: "\n").first,
                let owner = line.split(separator: ":").first
            else { continue }
            return String(owner)  // `libssl3:amd64: /usr/lib/...`: the package, less its architecture
        }
        throw TestFailure("no Debian package owns \(path) (dpkg -S); a library from outside Debian cannot go in the image")
    }

    /// Where the toolchain's runtime libraries are: beside the `swift` that built the binary.
    static func toolchainLibraryRoot() throws -> String {
        let result = try runCommand("/usr/bin/env", ["sh", "-c", "command -v swift"])
        let swift = URL(fileURLWithPath: result.output.trimmingCharacters(in: .whitespacesAndNewlines)).resolvingSymlinksInPath()
        guard result.status == 0 else { throw TestFailure("no swift on PATH: \(result.error)") }
        return swift.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("lib").path + "/"
    }
}

/// A Dockerfile's stages, with continuation lines joined and comments dropped.
struct Dockerfile {
    struct Stage {
        var base: String
        var instructions: [(keyword: String, arguments: String)] = []

        var runs: [String] { instructions.filter { $0.keyword == "RUN" }.map(\.arguments) }

        /// The arguments of the stage's last `keyword` instruction.
        func last(_ keyword: String) -> String? { instructions.last { $0.keyword == keyword }?.arguments }

        /// Package names given to `apt-get install` in the stage's RUN instructions.
        var installedPackages: [String] {
            runs.flatMap { run in
                run.components(separatedBy: "&&").compactMap { command -> [String]? in
                    let words = command.split(separator: " ").map(String.init)
                    guard let install = words.firstIndex(of: "install"), words.prefix(install).contains("apt-get") else { return nil }
                    return words[(install + 1)...].filter { !$0.hasPrefix("-") }
                }.flatMap { $0 }
            }
        }

        /// `ENV A=1 B=2` as a dictionary.
        var environment: [String: String] {
            var values: [String: String] = [:]
            for (keyword, arguments) in instructions where keyword == "ENV" {
                for pair in arguments.split(separator: " ") {
                    let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    if parts.count == 2 { values[parts[0]] = parts[1] }
                }
            }
            return values
        }
    }

    var stages: [Stage] = []

    init(path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var logical: [String] = []
        var pending = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || (line.isEmpty && pending.isEmpty) { continue }
            if line.hasSuffix("\\") {
                pending += line.dropLast() + " "
            } else {
                logical.append(pending + line)
                pending = ""
            }
        }
        for line in logical where !line.isEmpty {
            let keyword = String(line.prefix { $0 != " " }).uppercased()
            let arguments = line.dropFirst(keyword.count).split(separator: " ").joined(separator: " ")
            if keyword == "FROM" {
                stages.append(Stage(base: String(arguments.split(separator: " ").first ?? "")))
            } else if !stages.isEmpty {
                stages[stages.count - 1].instructions.append((keyword, arguments))
            }
        }
        guard !stages.isEmpty else { throw TestFailure("\(path): no FROM") }
    }
}
