import Foundation
import LogSurgePipelineTestSupport
import Testing

extension Tag {
    /// Tests that launch the built `logsurge` executable, slower than the rest. Their suites'
    /// names end in `CLITests`, so that `swift test --skip CLITests` leaves them out while
    /// working on something else (CI runs them all); `TestConventionTests` keeps it so.
    @Tag static var launchesBinary: Self
}

/// What the tests of this target add to the shared helpers: runs of the built executable.
extension Support {
    /// Waits up to 60 s for `condition` (a file a running process writes), looking every 20 ms;
    /// whether it held.
    static func eventually(_ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    /// The built `logsurge` executable next to the test bundle, if there is one.
    static var executable: URL? {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("logsurge")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        for configuration in ["debug", "release"] {
            let candidate = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../.build/\(configuration)/logsurge").standardized
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    /// Writing into a pipe whose reader has exited must fail with EPIPE, not kill the test process.
    static func ignoreBrokenPipes() { signal(SIGPIPE, SIG_IGN) }

    private final class Box: @unchecked Sendable {
        var data = Data()  // written by one thread, read after group.wait()
    }

    struct RunResult {
        var status: Int32
        var stdout: String
        var stderr: String
        /// Killed after the time limit: it hung.
        var timedOut = false
    }

    /// Runs the executable with `arguments`, feeding `stdin`, with `environment` added to ours.
    ///
    /// With `shell`, the executable runs from `/bin/sh -c shell`, where `"$0" "$@"` is the
    /// command: `ulimit -d 131072 && exec "$0" "$@"` runs it under a memory limit. A run longer
    /// than `timeLimit` seconds is killed and marked `timedOut`.
    static func run(
        _ arguments: [String], stdin: [UInt8] = [], environment: [String: String] = [:],
        shell: String? = nil, workingDirectory: String? = nil, timeLimit: Double = 300
    ) throws -> RunResult {
        ignoreBrokenPipes()
        let process = Process()
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        if let shell {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", shell, executable!.path] + arguments
        } else {
            process.executableURL = executable!
            process.arguments = arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let input = Pipe(), output = Pipe(), error = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = error
        try launch(process)
        let watchdog = Watchdog(process, seconds: timeLimit)
        let writer = Thread {
            // The child may exit before reading it all (a usage error): that is EPIPE, not a crash.
            try? input.fileHandleForWriting.write(contentsOf: Data(stdin))
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        // Drain standard error on another thread so a full pipe cannot stall the child.
        let errors = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errors.data = error.fileHandleForReading.readDataToEndOfFile(); group.leave()
        }
        let outData = output.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let errData = errors.data
        process.waitUntilExit()
        return RunResult(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self),
            timedOut: watchdog.fired())
    }

    /// Starts `process` from a thread that blocks no signal, as a shell would: a child inherits
    /// the signal mask, and the threads tests run on (Dispatch's) block nearly every signal,
    /// which would hide what a signal such as SIGXFSZ does to the program.
    static func launch(_ process: Process) throws {
        final class Launch: @unchecked Sendable {
            // Touched by the launching thread, then read after `done` is signalled.
            let process: Process
            var error: Error?
            let done = DispatchSemaphore(value: 0)
            init(_ process: Process) { self.process = process }
        }
        let launch = Launch(process)
        Thread {
            var none = sigset_t()
            sigemptyset(&none)
            pthread_sigmask(SIG_SETMASK, &none, nil)
            do { try launch.process.run() } catch { launch.error = error }
            launch.done.signal()
        }.start()
        launch.done.wait()
        if let error = launch.error { throw error }
    }

    /// Kills a process still running after its time limit, and tells whether it had to.
    final class Watchdog: @unchecked Sendable {
        // Invariant: `killed` and `finished` are only touched under `lock`.
        private let lock = NSLock()
        private var killed = false
        private var finished = false

        init(_ process: Process, seconds: Double) {
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
                lock.withLock {
                    // A finished process was reaped by waitUntilExit: its pid may be reused.
                    guard !finished else { return }
                    kill(pid, SIGKILL)
                    killed = true
                }
            }
        }

        /// Call once the process has exited.
        func fired() -> Bool {
            lock.withLock {
                finished = true
                return killed
            }
        }
    }
}

extension Support {
    /// Runs another program (`path`, e.g. curl, amtool, chromium) to its end: its exit status
    /// and standard output (standard error is dropped).
    static func tool(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, data)
    }
}

/// The binary reading the surge log through a pipe kept open: started with `arguments`, with
/// the lines before `cut` (a time of the server clock, "08/Nov/2016:17:10:" for ten minutes
/// into the surge) written; `finish()` writes the rest, closes the pipe and waits for the end.
final class SurgeLogPipe {
    let process = Process()
    private let input = Pipe()
    private let cut: Int

    init(_ arguments: [String], cutAt cut: String) throws {
        let text = String(decoding: Support.surgeLog, as: UTF8.self)
        self.cut = text.utf8.distance(from: text.startIndex, to: text.range(of: cut)!.lowerBound)
        process.executableURL = Support.executable!
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Support.ignoreBrokenPipes()
    }

    /// Writes the lines before the cut (call once, when the test is ready to look).
    func writeFirstPart() throws {
        try input.fileHandleForWriting.write(contentsOf: Data(Support.surgeLog[..<cut]))
    }

    /// Writes the lines from the cut on, leaving the pipe open.
    func writeRest() throws {
        try input.fileHandleForWriting.write(contentsOf: Data(Support.surgeLog[cut...]))
    }

    /// Closes the pipe and returns the exit status.
    func finish() throws -> Int32 {
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
