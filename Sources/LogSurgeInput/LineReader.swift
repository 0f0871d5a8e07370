import Glibc

/// Lines of a file or pipe, one at a time, within bounded memory: for the commands that read
/// text a line at a time (`detect`'s CSV, `geoip`'s addresses), where a line of any length must
/// not be held whole.
public enum LineReader {
    /// Calls `body` with each line of `descriptor` (without its newline; a CR before it
    /// dropped) and whether it was cut: a line longer than `limit` bytes is given as its first
    /// `limit` bytes, the rest read past without being kept. Memory stays within `limit` and
    /// one read buffer whatever the input holds. Returns the errno of a failed read, else nil.
    @discardableResult
    public static func forEachLine(of descriptor: Int32, limit: Int, _ body: ([UInt8], Bool) throws -> Void) rethrows -> Int32? {
        var line: [UInt8] = []
        var cut = false
        var block = [UInt8](repeating: 0, count: 64 << 10)
        func end() throws {
            if line.last == 0x0D { line.removeLast() }
            try body(line, cut)
            line.removeAll(keepingCapacity: true)
            cut = false
        }
        var failure: Int32?
        while true {
            let count = block.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                failure = errno
                break
            }
            if count == 0 { break }
            var start = 0
            while start < count {
                let newline = block[start..<count].firstIndex(of: 0x0A)
                let piece = block[start..<(newline ?? count)]
                let room = limit - line.count
                if piece.count > room {
                    line += piece.prefix(max(0, room))
                    cut = true
                } else if !cut {
                    line += piece
                }
                guard let newline else { break }
                try end()
                start = newline + 1
            }
        }
        if !line.isEmpty || cut { try end() }
        return failure
    }
}
