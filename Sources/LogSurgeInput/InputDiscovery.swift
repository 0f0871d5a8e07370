import Glibc

/// Expands the command-line paths into inputs in reading order.
///
/// - `-` is standard input.
/// - A path that is not a directory (regular file, FIFO, `/dev/stdin`, …) is itself.
/// - A directory means the regular files directly inside it, grouped by base name as
///   logrotate leaves them and each group read oldest first:
///   dated files `name-YYYYMMDD[.gz]` in date order, then numbered files
///   `name.N[.gz]` from the highest N down (`name.3.gz name.2.gz name.1`), then the live
///   `name` (and an unnumbered `name.gz`). Groups come in byte order of their base name.
///   Skipped: hidden files (name starting with `.`), subdirectories and other non-regular
///   files, and files whose base name contains `error` in any letter case (`error.log`,
///   `ssl_error_log.1`), since error logs are not access logs. A directory with none of
///   these files gives an `InputError`: nothing to read there is a mistake to report.
///   The `.gz` suffix only orders names; compression is still recognised from the content.
/// - A missing path or an unreadable directory gives an `InputError` in its place (no offset);
///   the caller reports it and goes on with the rest.
public enum InputDiscovery {
    /// The inputs named by `paths`, in reading order, with an error in place of each path that cannot be used.
    public static func expand(_ paths: [String]) -> [Result<InputSource, InputError>] {
        var result: [Result<InputSource, InputError>] = []
        for path in paths {
            if path == "-" {
                result.append(.success(.standardInput))
                continue
            }
            var info = stat()
            guard stat(path, &info) == 0 else {
                let code = errno
                result.append(.failure(InputError(path: path, offset: nil, message: FileIO.message(code))))
                continue
            }
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                result.append(.success(.file(path)))
                continue
            }
            switch listDirectory(path) {
            case .failure(let error):
                result.append(.failure(error))
            case .success(let names) where names.isEmpty:
                // A directory named on the command line that holds no log is a mistake to say,
                // not a run that silently reads nothing.
                result.append(
                    .failure(
                        InputError(
                            path: path, offset: nil,
                            message:
                                "no access log in this directory (hidden files, subdirectories and files named like error logs are skipped)"
                        )))
            case .success(let listed):
                let directory = path.hasSuffix("/") ? path : path + "/"
                let names = listed.compactMap { if case .name(let name) = $0 { name } else { nil } }
                for name in orderRotated(names) {
                    result.append(.success(.file(directory + name)))
                }
                for case .notUTF8(let shown) in listed {
                    result.append(
                        .failure(
                            InputError(
                                path: directory + shown, offset: nil,
                                message: "the file name is not UTF-8, and another file is named as it would be shown: rename one of them")))
                }
            }
        }
        return result
    }

    /// The names of the regular, non-hidden, non-error-log files directly in `path`.
    static func listDirectory(_ path: String) -> Result<[ListedName], InputError> {
        guard let directory = opendir(path) else {
            let code = errno
            return .failure(InputError(path: path, offset: nil, message: "cannot read directory: \(FileIO.message(code))"))
        }
        defer { closedir(directory) }
        let prefix = path.hasSuffix("/") ? path : path + "/"
        var names: [ListedName] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                let code = errno
                if code != 0 {
                    return .failure(InputError(path: path, offset: nil, message: "cannot read directory: \(FileIO.message(code))"))
                }
                break
            }
            let raw = withUnsafePointer(to: &entry.pointee.d_name) { tuple in
                // In bounds: d_name is a NUL-terminated C string inside the dirent.
                UnsafeRawPointer(tuple).assumingMemoryBound(to: CChar.self)
            }
            guard let name = String(validatingCString: raw) else {
                // A name that is not UTF-8 is read by its bytes, shown with them as `\xHH`.
                var info = stat()
                guard raw.pointee != 0x2E, fstatat(dirfd(directory), raw, &info, 0) == 0, (info.st_mode & S_IFMT) == S_IFREG
                else { continue }
                let bytes = Array(UnsafeBufferPointer(start: raw, count: strlen(raw))).map { UInt8(bitPattern: $0) }
                let escaped = Self.escaped(bytes)
                if RotatedName(escaped).base.lowercased().contains("error") { continue }
                // Shown so that no other file of the directory is (a file may be named `a\xE9.log`
                // in UTF-8): marked when one is; said when that one is too.
                guard let shown = [escaped, escaped + " (not UTF-8)"].first(where: { stat(prefix + $0, &info) != 0 }) else {
                    names.append(.notUTF8(escaped))
                    continue
                }
                SystemPath.register(prefix + shown, bytes: Array(prefix.utf8) + bytes)
                names.append(.name(shown))
                continue
            }
            if name.hasPrefix(".") { continue }
            if RotatedName(name).base.lowercased().contains("error") { continue }
            var info = stat()
            // stat follows symlinks: a link to a log file counts, a broken link does not.
            guard stat(prefix + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            names.append(.name(name))
        }
        return .success(names)
    }

    /// A name found in a directory: UTF-8 or read by its bytes (shown with them as `\xHH`, see
    /// `SystemPath`), or not UTF-8 and shown as another file's name is.
    enum ListedName: Equatable {
        case name(String)
        case notUTF8(String)
    }

    /// `bytes` as text: valid UTF-8 sequences as they are, every other byte as `\xHH`, and `\`
    /// as `\\`, so that two names are never shown alike (`a\xE9` is not the bytes `a`, 0xE9).
    static func escaped(_ bytes: [UInt8]) -> String {
        var text = ""
        var index = 0
        while index < bytes.count {
            // The longest valid UTF-8 sequence at `index` (1 to 4 bytes), else one escaped byte.
            var taken = false
            for length in 1...4 where index + length <= bytes.count {
                if let scalar = String(validating: bytes[index..<(index + length)], as: UTF8.self) {
                    text += scalar == "\\" ? "\\\\" : scalar
                    index += length
                    taken = true
                    break
                }
            }
            if !taken {
                let hex = String(bytes[index], radix: 16, uppercase: true)
                text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
                index += 1
            }
        }
        return text
    }

    /// `names` in reading order: groups by base name, each oldest first.
    static func orderRotated(_ names: [String]) -> [String] {
        names.map(RotatedName.init).sorted(by: <).map(\.name)
    }
}

/// A file name split the way logrotate builds it: base, then a date or number, then `.gz`.
struct RotatedName: Comparable {
    /// Where a file stands in its group: dated and numbered ones are older than the live file.
    enum Age: Comparable {
        /// `base-YYYYMMDD`: older dates first.
        case dated(Int)
        /// `base.N`: higher numbers are older, so they sort by descending N.
        case numbered(descending: Int)
        /// `base` itself (or `base.gz`): the newest.
        case live
    }

    let name: String
    let base: String
    let age: Age

    init(_ name: String) {
        self.name = name
        var stem = Substring(name)
        if stem.hasSuffix(".gz") && stem.count > 3 { stem = stem.dropLast(3) }
        if let dot = stem.lastIndex(of: "."), dot != stem.startIndex,
            let number = Self.digits(stem[stem.index(after: dot)...], lengths: 1...9)
        {
            base = String(stem[..<dot])
            age = .numbered(descending: -number)
        } else if let dash = stem.lastIndex(of: "-"), dash != stem.startIndex,
            let date = Self.digits(stem[stem.index(after: dash)...], lengths: 8...8)
        {
            base = String(stem[..<dash])
            age = .dated(date)
        } else {
            base = String(stem)
            age = .live
        }
    }

    /// The value of `text` when it is only ASCII digits, with a length in `lengths`.
    private static func digits(_ text: Substring, lengths: ClosedRange<Int>) -> Int? {
        let bytes = text.utf8
        guard lengths.contains(bytes.count), bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return bytes.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    static func < (lhs: RotatedName, rhs: RotatedName) -> Bool {
        if lhs.base != rhs.base { return lhs.base.utf8.lexicographicallyPrecedes(rhs.base.utf8) }
        if lhs.age != rhs.age { return lhs.age < rhs.age }
        return lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8)
    }

    static func == (lhs: RotatedName, rhs: RotatedName) -> Bool { lhs.name == rhs.name }
}
