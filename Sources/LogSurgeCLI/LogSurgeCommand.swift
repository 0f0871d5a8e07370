import CLogSurgeSystem
import ArgumentParser
import Foundation
import LogSurge
import LogSurgeGeo
import LogSurgeCore
import LogSurgeInput

@main
struct LogSurgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logsurge",
        abstract: "Turn web-server access logs into an early warning: requests per UTC minute by site and country.",
        discussion: """
            Reads plain or gzip access logs (files, directories of rotated logs, or standard input), \
            parses them in parallel, resolves each client to a country and counts requests per UTC \
            minute, site and country.

            Examples:
              logsurge /var/log/nginx/                 # a report of every rotated log
              zcat access.log.*.gz | logsurge --buckets minutes.csv
              logsurge detect web1.csv web2.csv        # fleet-wide episodes from buckets
              logsurge geoip 8.8.8.8 2a02:d500::1
              logsurge generate --minutes 60 | logsurge

            \(EmbeddedCountryDatabase.attribution)
            """,
        version: LogSurgeCommand.versionText,
        subcommands: [Analyze.self, Detect.self, GeoIPCommand.self, Generate.self, StateCommand.self],
        defaultSubcommand: Analyze.self
    )

    static var versionText: String {
        let cdns = CDNProvider.embedded.map { "\($0.name) (\($0.ranges.count) ranges, published \($0.published), \($0.source))" }
        return
            "logsurge \(LogSurgeVersion.string)\nembedded country database built \(EmbeddedCountryDatabase.buildDate)\n\(EmbeddedCountryDatabase.attribution)"
            + "\nembedded CDN address ranges (--trusted-proxy): " + cdns.joined(separator: "; ")
    }

    /// Parses, runs, and maps every failure to the contract's exit status: 2 for usage errors,
    /// whatever the command decided otherwise.
    static func main() {
        logsurge_use_one_malloc_arena()  // before any worker thread: see its comment
        signal(SIGPIPE, SIG_IGN)  // a closed pipe becomes EPIPE, which ends the program quietly
        signal(SIGXFSZ, SIG_IGN)  // a file size limit becomes EFBIG: an error naming the output
        // Killed (SIGINT, SIGTERM, SIGHUP), a run leaves no temporary output beside the real ones
        // (a streaming run replaces the first two with a stop that writes its outputs).
        logsurge_install_cleanup_handlers()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch let error as OutputError where error.isBrokenPipe {
            Foundation.exit(0)
        } catch let error as OutputError {
            // An output that could not be written to its end (a full disk): status 1, as for an
            // input that could not be read to its end.
            warn("error: \(error.description)")
            Foundation.exit(ExitStatus.outputIncomplete)
        } catch let error as CocoaError {
            // Foundation's wording ("The operation could not be completed", a domain and a code)
            // is not for the user: the file and the system's reason are.
            warn("error: \(plainMessage(error))")
            Foundation.exit(ExitStatus.outputIncomplete)
        } catch let error as UsageError {
            warn("error: \(error.description)")
            Foundation.exit(ExitStatus.usage)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                self.exit(withError: error)  // --help, --version
            }
            let message = fullMessage(for: error)
            if !message.isEmpty { writeStandardError(message + "\n") }
            Foundation.exit(code == .validationFailure ? ExitStatus.usage : code.rawValue)
        }
    }
}

/// The exit statuses of the contract.
enum ExitStatus {
    static let inputIncomplete: Int32 = 1
    /// An output could not be written to its end (disk full, I/O error); a closed pipe is not this.
    static let outputIncomplete: Int32 = 1
    static let usage: Int32 = 2
    static let alertRaised: Int32 = 3
}

/// Writes `logsurge: message` to standard error, escaped for the terminal: messages name
/// paths and addresses, which may come from a directory listing or a log.
func warn(_ message: String) {
    writeStandardError("logsurge: \(Escaping.terminal(message))\n")
}

/// Writes to standard error, ignoring failures: a closed standard error must not stop the
/// program (FileHandle's write traps on EPIPE).
func writeStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return }
            offset += written
        }
    }
}

/// A usage error found after parsing (a bad database, an unwritable output): status 2.
struct UsageError: Error, CustomStringConvertible {
    var description: String
}

/// A Foundation file error as the user reads it: `PATH: reason`, the reason from the system
/// (`strerror`) when Foundation kept it.
func plainMessage(_ error: CocoaError) -> String {
    let path = (error.userInfo[NSFilePathErrorKey] as? String) ?? error.url?.path
    let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError
    let reason: String
    if let underlying, underlying.domain == NSPOSIXErrorDomain {
        reason = String(cString: strerror(Int32(underlying.code)))
    } else {
        switch error.code {
        case .fileNoSuchFile, .fileReadNoSuchFile: reason = "No such file or directory"
        case .fileWriteNoPermission, .fileReadNoPermission: reason = "Permission denied"
        case .fileWriteOutOfSpace: reason = "No space left on device"
        case .fileWriteFileExists: reason = "File exists"
        default: reason = "cannot be read or written"
        }
    }
    return path.map { "\($0): \(reason)" } ?? reason
}
