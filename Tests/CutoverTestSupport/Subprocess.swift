import CutoverLocking
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// How a child process ended.
package enum Termination: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)

    /// The exit code, or 128 + the signal number as a shell reports it.
    package var status: Int32 {
        switch self {
        case .exited(let code): code
        case .signalled(let signal): 128 + signal
        }
    }

    package var description: String {
        switch self {
        case .exited(let code): "exit \(code)"
        case .signalled(let signal): "signal \(signal)"
        }
    }
}

/// What a command that ran to completion left: how it ended, its standard output and error.
package struct CommandResult: Sendable {
    package let termination: Termination
    package let output: String
    package let error: String

    /// The exit code (128 + signal for a signalled command).
    package var status: Int32 { termination.status }
}

/// Runs a command to completion: both pipes are drained on threads of their own (a chatty child
/// cannot block on a full pipe), `stdin` is written on another, and a command still running after
/// `timeout` seconds is killed, with what it printed so far in the error thrown.
package func runCommand(
    _ executable: String, _ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:],
    timeout: TimeInterval = 120
) throws -> CommandResult {
    let child = try ChildProcess(executable, arguments, environment: environment, stdin: stdin != nil)
    let output = OutputCollector()
    let error = OutputCollector()
    child.drain(into: output, error: error)
    if let stdin { child.writeInput(stdin) }
    let deadline = Date().addingTimeInterval(timeout)
    let termination = child.wait(until: deadline)
    // The child's descendants are killed when it is reaped, so its pipes end with it.
    guard let termination, output.waitForEnd(until: deadline), error.waitForEnd(until: deadline) else {
        child.kill()
        throw TestFailure(
            "\(child.command) did not finish within \(timeout) s; stdout: \(output.text.suffix(2000)) stderr: \(error.text.suffix(2000))"
        )
    }
    return CommandResult(termination: termination, output: output.text, error: error.text)
}

/// A long-running child (a Python downstream, `cutover serve`, nginx, a load client): its
/// standard output and error are collected line by line, and it is killed, with its process group,
/// when the test lets go of it (or calls `kill()` or `terminate()`), on a failing path too.
package final class PeerProcess: Sendable {
    package enum Stream: Sendable { case stdout, stderr }

    package let stdout = OutputCollector()
    package let stderr = OutputCollector()
    private let child: ChildProcess

    package init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        child = try ChildProcess(executable, arguments, environment: environment, stdin: false)
        child.drain(into: stdout, error: stderr)
    }

    package var pid: pid_t { child.pid }

    /// How it ended, once it has.
    package var termination: Termination? { child.wait(until: Date()) }

    /// The first line on `stream` that `matches` holds for, waiting up to `timeout` seconds; throws
    /// with everything the peer printed when none comes or the peer exits first.
    package func waitForLine(
        _ stream: Stream = .stdout, timeout: TimeInterval = 30, where matches: (String) -> Bool
    ) throws -> String {
        let collector = stream == .stdout ? stdout : stderr
        guard let line = collector.wait(timeout: timeout, until: { $0.contains(where: matches) })?.first(where: matches) else {
            throw TestFailure(
                "\(child.command): no such line within \(timeout) s (\(termination.map { "\($0)" } ?? "still running")); "
                    + "stdout: \(stdout.lines.joined(separator: " | ")) stderr: \(stderr.lines.joined(separator: " | "))"
            )
        }
        return line
    }

    /// How it ended, waiting up to `timeout` seconds; nil while it is still running then.
    package func waitForExit(timeout: TimeInterval) -> Termination? {
        child.wait(until: Date().addingTimeInterval(timeout))
    }

    /// Sends `signal` to the peer (not its process group).
    package func signal(_ signal: Int32) { child.signal(signal, group: false) }

    /// Sends `signal` to the peer's whole process group (a server started through `runuser`).
    package func signalGroup(_ signal: Int32) { child.signal(signal, group: true) }

    /// SIGKILL to the peer and its process group, as in a crash; returns once it is reaped.
    package func kill() { child.kill() }

    /// SIGTERM, then SIGKILL when it has not exited within `grace` seconds; returns how it ended.
    @discardableResult
    package func terminate(grace: TimeInterval = 30) -> Termination {
        child.signal(SIGTERM, group: true)
        if let ended = child.wait(until: Date().addingTimeInterval(grace)) { return ended }
        child.kill()
        return child.wait(until: Date()) ?? .signalled(SIGKILL)
    }

    deinit { child.kill() }
}

/// Output of a child, kept whole and as lines, that a test can wait on (woken by each chunk read,
/// not by polling), with a time limit.
package final class OutputCollector: @unchecked Sendable {
    // Invariant: `bytes`, `lines`, `partial` and `closed` are only touched while holding `condition`.
    private let condition = NSCondition()
    private var bytes: [UInt8] = []
    private var completeLines: [String] = []
    private var partial: [UInt8] = []
    private var closed = false

    init() {}

    func append(_ chunk: ArraySlice<UInt8>) {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        bytes.append(contentsOf: chunk)
        // Only the new bytes are searched: a multi-megabyte line arrives in many chunks.
        var lineStart = chunk.startIndex
        for index in chunk.indices where chunk[index] == UInt8(ascii: "\n") {
            partial.append(contentsOf: chunk[lineStart..<index])
            completeLines.append(String(decoding: partial, as: UTF8.self))
            partial.removeAll(keepingCapacity: true)
            lineStart = index + 1
        }
        partial.append(contentsOf: chunk[lineStart...])
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// The complete lines so far.
    package var lines: [String] {
        condition.lock()
        defer { condition.unlock() }
        return completeLines
    }

    /// Everything so far, as text.
    package var text: String {
        condition.lock()
        defer { condition.unlock() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Waits until `predicate` holds for the lines so far and returns them; nil after `timeout`
    /// seconds or once the stream ended without it holding.
    package func wait(timeout: TimeInterval = 30, until predicate: ([String]) -> Bool) -> [String]? {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(completeLines) {
            if closed || !condition.wait(until: deadline) { return predicate(completeLines) ? completeLines : nil }
        }
        return completeLines
    }

    /// Waits up to `timeout` seconds for the end of the stream (every writer gone); false if it
    /// has not ended by then.
    package func waitForEnd(timeout: TimeInterval) -> Bool { waitForEnd(until: Date().addingTimeInterval(timeout)) }

    func waitForEnd(until deadline: Date) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !closed {
            if !condition.wait(until: deadline) { return closed }
        }
        return true
    }
}

/// Every child the support target starts, while it runs: killed, and reported, if a test process
/// exits with any still running.
package enum TestPeers {
    /// Set on every child (and so inherited by its descendants): `scripts/check-no-leftover-peers.sh`
    /// finds survivors by it. Its value is $CUTOVER_TEST_RUN (`make test` sets it) or the checkout.
    package static let markerName = "CUTOVER_TEST_PEER"
    package static let marker: String = {
        let run = ProcessInfo.processInfo.environment["CUTOVER_TEST_RUN"] ?? ""
        return run.isEmpty ? Repo.root.path : run
    }()

    /// The children running now: pid and command line.
    package static var running: [pid_t: String] { registry.withLock { $0 } }

    static let registry = Locked<[pid_t: String]>([:])

    static func started(_ pid: pid_t, _ command: String) {
        _ = exitHook
        registry.withLock { $0[pid] = command }
    }

    static func reaped(_ pid: pid_t) {
        _ = registry.withLock { $0.removeValue(forKey: pid) }
    }

    /// At exit, any child still running is a peer a test forgot: killed, reported on stderr and in
    /// $CUTOVER_TEST_LEFTOVERS (which the leftover check reads).
    private static let exitHook: Void = {
        atexit {
            let survivors = TestPeers.registry.withLock { $0 }
            guard !survivors.isEmpty else { return }
            var report = ""
            for (pid, command) in survivors.sorted(by: { $0.key < $1.key }) {
                Glibc.kill(-pid, SIGKILL)
                Glibc.kill(pid, SIGKILL)
                report += "test peer still running at exit, killed: pid \(pid): \(command)\n"
            }
            FileHandle.standardError.write(Data(report.utf8))
            if let path = ProcessInfo.processInfo.environment["CUTOVER_TEST_LEFTOVERS"], !path.isEmpty,
                let handle = FileHandle(forUpdatingAtPath: path)
            {
                handle.seekToEndOfFile()
                handle.write(Data(report.utf8))
                try? handle.close()
            }
        }
    }()
}

/// A child started with posix_spawn: in a process group of its own, with an empty signal mask and
/// every signal at its default (a test thread's blocked signals are not inherited, so SIGTERM
/// works), no descriptor but its three pipes, and the peer marker in its environment. A thread
/// waits for its exit; nothing polls.
final class ChildProcess: @unchecked Sendable {
    // Invariant: `pid`, `command` and the descriptors are set in init and never change;
    // `termination` is only touched while holding `condition`, and the pid is only signalled while
    // `termination` is nil (the child is unreaped, so the pid and its group are still ours).
    let pid: pid_t
    let command: String
    private let input: Int32?
    private let output: Int32
    private let error: Int32
    private let condition = NSCondition()
    private var termination: Termination?

    init(_ executable: String, _ arguments: [String], environment: [String: String], stdin: Bool) throws {
        command = ([executable] + arguments).joined(separator: " ")
        var environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        environment[TestPeers.markerName] = TestPeers.marker

        // Pipes are made close-on-exec and the child spawned under one lock, so no other child of
        // ours can inherit an end of them (its EOF would then wait for that other child).
        Self.spawning.lock()
        defer { Self.spawning.unlock() }
        let inputPipe = stdin ? try Self.pipe() : nil
        let outputPipe = try Self.pipe()
        let errorPipe = try Self.pipe()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let inputPipe {
            posix_spawn_file_actions_adddup2(&actions, inputPipe.read, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, outputPipe.write, 1)
        posix_spawn_file_actions_adddup2(&actions, errorPipe.write, 2)
        // Nothing else of the test process's: every descriptor open now above 2 is closed (glibc
        // ignores one that is already closed, such as the directory listing's own).
        for descriptor in Self.openDescriptors() where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var spawned: pid_t = 0
        let result = posix_spawn(&spawned, executable, &actions, &attributes, argv, envp)
        // The child has its copies; the parent keeps only its own ends.
        for descriptor in [inputPipe?.read, outputPipe.write, errorPipe.write].compactMap({ $0 }) { close(descriptor) }
        guard result == 0 else {
            for descriptor in [inputPipe?.write, outputPipe.read, errorPipe.read].compactMap({ $0 }) { close(descriptor) }
            throw TestFailure("cannot start \(command): \(String(cString: strerror(result)))")
        }
        pid = spawned
        input = inputPipe?.write
        output = outputPipe.read
        error = errorPipe.read
        TestPeers.started(pid, command)
        Thread.detachNewThread { [self] in reap() }
    }

    private static let spawning = NSLock()

    private static func pipe() throws -> (read: Int32, write: Int32) {
        var descriptors: [Int32] = [0, 0]
        guard Glibc.pipe(&descriptors) == 0 else { throw TestFailure("pipe: errno \(errno)") }
        for descriptor in descriptors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        return (descriptors[0], descriptors[1])
    }

    private static func openDescriptors() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
    }

    /// Waits for the exit without reaping, kills what is left of the process group (the zombie
    /// still holds the group's id), then reaps and records.
    private func reap() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        Glibc.kill(-pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import.
        let signal = status & 0x7f
        termination = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
        TestPeers.reaped(pid)
    }

    /// How the child ended, waiting until `deadline` for it; nil while it still runs.
    func wait(until deadline: Date) -> Termination? {
        condition.lock()
        defer { condition.unlock() }
        while termination == nil {
            if !condition.wait(until: deadline) { break }
        }
        return termination
    }

    func signal(_ signal: Int32, group: Bool) {
        condition.lock()
        defer { condition.unlock() }
        guard termination == nil else { return }
        Glibc.kill(group ? -pid : pid, signal)
    }

    /// SIGKILL to the child and its group; returns once reaped (or after 10 s, which SIGKILL
    /// never needs).
    func kill() {
        signal(SIGKILL, group: true)
        _ = wait(until: Date().addingTimeInterval(10))
    }

    /// Reads stdout and stderr to their ends on threads of their own.
    func drain(into stdout: OutputCollector, error stderr: OutputCollector) {
        for (descriptor, collector) in [(output, stdout), (error, stderr)] {
            Thread.detachNewThread {
                var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                while true {
                    let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                    if count > 0 {
                        collector.append(buffer[0..<count])
                    } else if count < 0 && errno == EINTR {
                        continue
                    } else {
                        break
                    }
                }
                close(descriptor)
                collector.close()
            }
        }
    }

    /// Writes `data` to stdin and closes it, on a thread of its own with SIGPIPE blocked (a child
    /// that exits without reading gets EPIPE there, not the test process a SIGPIPE).
    func writeInput(_ data: Data) {
        guard let input else { return }
        Thread.detachNewThread {
            var pipeSignal = sigset_t()
            sigemptyset(&pipeSignal)
            sigaddset(&pipeSignal, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
            let bytes = [UInt8](data)
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { write(input, $0.baseAddress, $0.count) }
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            close(input)
        }
    }
}
