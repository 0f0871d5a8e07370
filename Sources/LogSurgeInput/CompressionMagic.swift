/// Compressed formats logsurge does not read, recognised by their magic bytes, so that such a
/// file is an input error that says what it is, not binary bytes parsed as malformed lines.
public enum UnreadableCompression {
    /// The format `head` (a file's first bytes) starts with, as its tool is called; nil when
    /// none of them.
    public static func format(of head: UnsafeRawBufferPointer) -> String? {
        func starts(_ magic: [UInt8]) -> Bool { head.count >= magic.count && zip(head, magic).allSatisfy { $0 == $1 } }
        if starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return "xz" }
        if starts([0x28, 0xB5, 0x2F, 0xFD]) { return "zstd" }
        if starts([0x04, 0x22, 0x4D, 0x18]) { return "lz4" }
        // "BZh", a block size digit, then a block's or the stream end's own magic.
        if head.count >= 10, starts([0x42, 0x5A, 0x68]), (0x31...0x39).contains(head[3]),
            starts([0x42, 0x5A, 0x68, head[3], 0x31, 0x41, 0x59, 0x26, 0x53, 0x59])
                || starts([0x42, 0x5A, 0x68, head[3], 0x17, 0x72, 0x45, 0x38, 0x50, 0x90])
        {
            return "bzip2"
        }
        if starts([0x50, 0x4B, 0x03, 0x04]) { return "zip" }
        return nil
    }

    /// The input error's message for a file in `format`.
    public static func message(_ format: String) -> String {
        let tool =
            switch format {
            case "xz": "xz -dc"
            case "zstd": "zstd -dc"
            case "lz4": "lz4 -dc"
            case "bzip2": "bzip2 -dc"
            default: "unzip -p"
            }
        return
            "\(format)-compressed, which logsurge does not read (it reads plain text and gzip): decompress it into a pipe, e.g. \(tool) FILE | logsurge -"
    }
}
