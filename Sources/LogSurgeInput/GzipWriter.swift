import CZlib

/// Compresses bytes to gzip with zlib (level 6, no timestamp, so output is reproducible).
public final class GzipWriter {
    private var stream = z_stream()
    private var output = [UInt8](repeating: 0, count: 1 << 16)

    public init(level: Int32 = 6) {
        // windowBits 15 + 16 asks zlib for a gzip wrapper; memLevel 8 is zlib's default.
        let status = deflateInit2_(
            &stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(status == Z_OK, "deflateInit2 failed: \(status)")
    }

    deinit { deflateEnd(&stream) }

    /// Compresses `input`; `sink` receives compressed bytes as they are produced.
    public func write(_ input: [UInt8], sink: ([UInt8]) throws -> Void) rethrows {
        try run(input, flush: Z_NO_FLUSH, sink: sink)
    }

    /// Ends the gzip member.
    public func finish(sink: ([UInt8]) throws -> Void) rethrows {
        try run([], flush: Z_FINISH, sink: sink)
    }

    private func run(_ input: [UInt8], flush: Int32, sink: ([UInt8]) throws -> Void) rethrows {
        var input = input
        try input.withUnsafeMutableBufferPointer { inputBuffer in
            // zlib reads next_in only during the deflate calls below, while the buffer is pinned.
            stream.next_in = inputBuffer.baseAddress
            stream.avail_in = UInt32(inputBuffer.count)
            var status = Z_OK
            repeat {
                let produced: Int = output.withUnsafeMutableBufferPointer { outputBuffer in
                    stream.next_out = outputBuffer.baseAddress
                    stream.avail_out = UInt32(outputBuffer.count)
                    status = deflate(&stream, flush)
                    precondition(status != Z_STREAM_ERROR, "deflate stream error")
                    return outputBuffer.count - Int(stream.avail_out)
                }
                if produced > 0 { try sink(Array(output[0..<produced])) }
            } while flush == Z_FINISH ? status != Z_STREAM_END : (stream.avail_in != 0 || stream.avail_out == 0)
            stream.next_in = nil
            stream.next_out = nil
        }
    }
}
