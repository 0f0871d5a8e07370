/// One input of a run: standard input or a file path.
public enum InputSource: Sendable, Hashable {
    /// Standard input (`-` on the command line).
    case standardInput
    /// A file, by the path given or found in a directory.
    case file(String)
    /// Files read as they grow, across rotation (`--follow`): one stream of their lines.
    case followed([String])

    /// The name used in reports and errors: `-` for standard input, else the path.
    public var displayName: String {
        switch self {
        case .standardInput: return "-"
        case .file(let path): return path
        case .followed(let paths): return paths.joined(separator: ", ")
        }
    }
}

/// An input that could not be read to its end: missing, unreadable, damaged gzip, I/O error.
///
/// It is an operational error, reported with the path and, where known, the byte offset
/// into the raw (possibly compressed) file; the rest of the run goes on.
public struct InputError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input's display name (`-` for standard input).
    public var path: String
    /// Bytes into the raw file where reading stopped, when known.
    public var offset: Int64?
    /// What went wrong, e.g. "gzip file truncated at byte 1234".
    public var message: String

    /// An error for `path` at `offset` (nil when no offset applies).
    public init(path: String, offset: Int64?, message: String) {
        self.path = path
        self.offset = offset
        self.message = message
    }

    /// `path: message`.
    public var description: String { "\(path): \(message)" }
}

/// How an input was stored, recognised from its first bytes.
public enum Compression: String, Sendable, Hashable {
    /// Plain text.
    case none
    /// gzip (magic bytes `1f 8b`), one or more members.
    case gzip
}

/// What reading one input took and found.
public struct InputStats: Sendable, Equatable {
    /// Raw bytes read from the file or pipe.
    public var bytesRead: Int64
    /// Bytes after decompression (equal to `bytesRead` for plain input).
    public var decompressedBytes: Int64
    /// The compression recognised from the content.
    public var compression: Compression
    /// gzip members read completely (0 for plain input).
    public var gzipMembers: Int
    /// The inflater that read a gzip input (zlib for a pipe, whatever was asked); nil for plain.
    public var inflater: Inflater?
    /// Bytes of content, from the input's start, through the end of the last line read (a
    /// skipped start included): where a later run resumes. A last line that was held back
    /// (see `heldBack`) is not in it.
    public var linesEnd: Int64 = 0
    /// Bytes of an unterminated last line that were not read as a line, because the reader
    /// holds such a line back (`--state`): the input ended inside it, cleanly or not.
    public var heldBack: Int64 = 0

    /// Stats with the given values. By default, all zero and `.none`.
    public init(
        bytesRead: Int64 = 0, decompressedBytes: Int64 = 0, compression: Compression = .none, gzipMembers: Int = 0,
        inflater: Inflater? = nil, linesEnd: Int64 = 0, heldBack: Int64 = 0
    ) {
        self.bytesRead = bytesRead
        self.decompressedBytes = decompressedBytes
        self.compression = compression
        self.gzipMembers = gzipMembers
        self.inflater = inflater
        self.linesEnd = linesEnd
        self.heldBack = heldBack
    }
}
