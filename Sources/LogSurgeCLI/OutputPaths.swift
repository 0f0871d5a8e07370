import ArgumentParser
import Foundation
import LogSurgeInput

/// What the outputs of a run may be: never an input, never one file twice.
enum OutputPaths {
    /// Refuses an output named twice, or one that is an input named on the command line (or
    /// standard input redirected from it): it would be replaced while it is read, or hold two
    /// outputs' text. Files are compared by device and inode (a link or another spelling of the
    /// path is the same file); outputs that do not exist yet by their resolved directory and
    /// name (a dangling link by where it points). Devices and FIFOs (`/dev/null` twice) are
    /// not files to protect. An output inside an input directory is refused too, existing or
    /// not: the next run would read it as a log (or refuse it), so every run gets one answer.
    static func check(_ outputs: [String], inputs: [String]) throws {
        var directories: [String: String] = [:]
        for input in inputs where input != "-" {
            var status = stat()
            if stat(input, &status) == 0, status.st_mode & S_IFMT == S_IFDIR, let real = realPath(input) { directories[real] = input }
        }
        var seen: [String: String] = [:]
        for output in outputs where output != "-" {
            if output.isEmpty { throw ValidationError("an output file name is empty") }
            guard let key = identity(output) else { continue }
            if let home = resolvedDirectory(output), let input = directories[home] {
                throw ValidationError(
                    "\(output) is inside the input directory \(input): a later run would read it as a log; keep it elsewhere")
            }
            if let earlier = seen[key] {
                throw ValidationError(
                    "\(output) is named for two outputs\(earlier == output ? "" : " (as \(earlier) too)"): give each its own file")
            }
            seen[key] = output
        }
        for input in inputs.isEmpty ? ["-"] : inputs {
            let key: String?
            if input == "-" {
                var status = stat()
                key = fstat(0, &status) == 0 && status.st_mode & S_IFMT == S_IFREG ? "\(status.st_dev):\(status.st_ino)" : nil
            } else {
                var status = stat()
                if stat(input, &status) == 0, status.st_mode & S_IFMT == S_IFDIR { continue }
                key = identity(input)
            }
            guard let key, let output = seen[key] else { continue }
            throw ValidationError(
                "\(output) is also an input (\(input == "-" ? "standard input" : input)): an output would replace the log while it is read")
        }
    }

    /// `dev:ino` of an existing regular file (nil for other existing files); for a path that
    /// does not exist, the real path of its directory and its name, after following a dangling
    /// link (at most 8 of them).
    static func identity(_ path: String) -> String? {
        var path = path
        for _ in 0..<8 {
            var status = stat()
            if stat(path, &status) == 0 {
                guard status.st_mode & S_IFMT == S_IFREG else { return nil }
                return "\(status.st_dev):\(status.st_ino)"
            }
            var link = stat()
            guard lstat(path, &link) == 0, link.st_mode & S_IFMT == S_IFLNK,
                let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path)
            else { break }
            path = target.hasPrefix("/") ? target : (directory(of: path) + "/" + target)
        }
        let name = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
        let parent = directory(of: path)
        guard let resolved = realpath(parent, nil) else { return "missing:" + parent + "/" + name }
        defer { free(resolved) }
        return String(cString: resolved) + "/" + name
    }

    /// The real path of the directory that holds `path` (of the file a link leads to, when it exists).
    static func resolvedDirectory(_ path: String) -> String? {
        if let real = realPath(path) { return directory(of: real) }
        return realPath(directory(of: path))
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
