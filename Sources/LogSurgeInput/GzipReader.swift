import CZlib
import Glibc

/// Inflates a gzip stream from a file descriptor straight into a `LineChunker`.
///
/// Uses zlib's gzip mode (`inflateInit2_` with windowBits 15 + 16, which checks each
/// member's CRC-32 and length). At the end of a member the next bytes decide: `1f 8b` starts
/// another member (`inflateReset`), zero bytes up to the end of the file are padding, and
/// anything else is "trailing data after gzip member". Output blocks of `outputSize` bytes
/// are written directly into the chunker's buffer.
enum GzipReader {
    /// Reads the rest of `fileDescriptor`, whose first `have` bytes are already in `input`.
    ///
    /// Returns nil when the whole stream was read, or the error that ended it. Updates
    /// `stats.bytesRead`, `decompressedBytes` and `gzipMembers`.
    static func inflate(
        fileDescriptor: Int32, name: String,
        input: UnsafeMutableRawBufferPointer, have: Int, outputSize: Int,
        chunker: inout LineChunker, stats: inout InputStats,
        emit: (LineChunk) throws -> Void
    ) rethrows -> InputError? {
        try withUnsafeTemporaryAllocation(of: z_stream.self, capacity: 1) { streamBuffer in
            // zlib keeps a pointer back to the stream: it must not move while in use.
            let stream = streamBuffer.baseAddress!
            stream.initialize(to: z_stream())
            defer { stream.deinitialize(count: 1) }
            let started = inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
            guard started == Z_OK else {
                return InputError(path: name, offset: 0, message: "cannot start the gzip inflater (zlib error \(started))")
            }
            defer { inflateEnd(stream) }

            let inputBase = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.next_in = inputBase
            stream.pointee.avail_in = UInt32(have)
            /// Raw file offset of `input[0]`.
            var bufferOffset: Int64 = 0
            var endOfFile = false
            var inMember = true
            var sawPadding = false

            /// Raw file offset of the next byte zlib has not consumed.
            func consumedOffset() -> Int64 {
                bufferOffset + Int64(stream.pointee.next_in - inputBase)
            }
            /// Keeps the unconsumed bytes, moved to the front, and reads more after them.
            func refill() -> InputError? {
                let keep = Int(stream.pointee.avail_in)
                bufferOffset = consumedOffset()
                // In bounds: the `keep` unconsumed bytes start at next_in inside `input`.
                if keep > 0 { input.baseAddress!.copyMemory(from: stream.pointee.next_in, byteCount: keep) }
                stream.pointee.next_in = inputBase
                // In bounds: keep < input.count (refill is only called with at most one byte kept).
                let count = FileIO.read(fileDescriptor, into: input.baseAddress! + keep, count: input.count - keep)
                if count < 0 {
                    return InputError(
                        path: name, offset: stats.bytesRead,
                        message: "read error: \(FileIO.message(Int32(-count))) at byte \(stats.bytesRead)"
                    )
                }
                if count == 0 { endOfFile = true }
                stats.bytesRead += Int64(count)
                stream.pointee.avail_in = UInt32(keep + count)
                return nil
            }
            func failure(_ message: String) -> InputError {
                let offset = consumedOffset()
                return InputError(path: name, offset: offset, message: "\(message) at byte \(offset)")
            }

            while true {
                if inMember {
                    if stream.pointee.avail_in == 0 {
                        if endOfFile { return failure("gzip file truncated") }
                        if let error = refill() { return error }
                        continue
                    }
                    let availableBefore = stream.pointee.avail_in
                    var status = Z_OK
                    let produced = try chunker.fill(minimumCapacity: outputSize, emit: emit) { output in
                        let room = min(output.count, outputSize)
                        stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
                        stream.pointee.avail_out = UInt32(room)
                        // In bounds: zlib writes at most avail_out bytes (room <= output.count).
                        status = CZlib.inflate(stream, Z_NO_FLUSH)
                        return room - Int(stream.pointee.avail_out)
                    }
                    stats.decompressedBytes += Int64(produced)
                    switch status {
                    case Z_OK:
                        continue
                    case Z_BUF_ERROR:
                        // Only possible without input or output room; guard against spinning anyway.
                        if produced == 0 && stream.pointee.avail_in == availableBefore && availableBefore > 0 {
                            return failure("gzip inflater made no progress")
                        }
                    case Z_STREAM_END:
                        stats.gzipMembers += 1
                        inMember = false
                    case Z_DATA_ERROR:
                        return failure("gzip data damaged (\(describe(stream.pointee.msg)))")
                    case Z_NEED_DICT:
                        return failure("gzip data damaged (needs a preset dictionary)")
                    case Z_MEM_ERROR:
                        return failure("out of memory while inflating gzip data")
                    default:
                        return failure("gzip inflater failed (zlib error \(status))")
                    }
                } else {
                    // Between members: another member, zero padding to the end, or trailing data.
                    let available = Int(stream.pointee.avail_in)
                    if available == 0 {
                        if endOfFile { return nil }
                        if let error = refill() { return error }
                        continue
                    }
                    let next = stream.pointee.next_in!
                    var zeros = 0
                    // In bounds: zeros < available bytes from next_in.
                    while zeros < available && next[zeros] == 0 { zeros += 1 }
                    if zeros > 0 {
                        sawPadding = true
                        stream.pointee.next_in = next + zeros
                        stream.pointee.avail_in = UInt32(available - zeros)
                        continue
                    }
                    // In bounds: available > 0.
                    if sawPadding || next[0] != 0x1F { return failure("trailing data after gzip member") }
                    if available < 2 {
                        if endOfFile { return failure("trailing data after gzip member") }
                        if let error = refill() { return error }
                        continue
                    }
                    // In bounds: available >= 2.
                    if next[1] != 0x8B { return failure("trailing data after gzip member") }
                    let reset = inflateReset(stream)
                    guard reset == Z_OK else { return failure("gzip inflater failed (zlib error \(reset))") }
                    inMember = true
                }
            }
        }
    }

    /// zlib's message for a data error, with the check failures named plainly.
    private static func describe(_ message: UnsafeMutablePointer<CChar>?) -> String {
        guard let message else { return "invalid deflate data" }
        let text = String(cString: message)
        switch text {
        case "incorrect data check": return "CRC-32 mismatch: incorrect data check"
        case "incorrect length check": return "length mismatch: incorrect length check"
        default: return text
        }
    }
}
