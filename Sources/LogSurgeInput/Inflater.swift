import CISAL
import CZlib

/// The library that inflates gzip input.
///
/// zlib is always there. Intel ISA-L inflates the same streams about four times faster on
/// x86-64; it is used when its library (`libisal.so.2`, Debian `libisal2`) can be loaded at
/// run time and the build found its header (`libisal-dev`). Both give identical results.
public enum Inflater: String, Sendable, CaseIterable, CustomStringConvertible {
    case zlib
    case isal

    /// ISA-L when it can be loaded, else zlib.
    public static var automatic: Inflater { isalUnavailableReason == nil ? .isal : .zlib }

    /// Why ISA-L cannot be used here, or nil when it can.
    public static var isalUnavailableReason: String? {
        var why: UnsafePointer<CChar>?
        if logsurge_isal_load(&why) != 0 { return nil }
        return why.map { String(cString: $0) } ?? "ISA-L not available"
    }

    /// The name and version shown in reports, e.g. "zlib 1.2.13" or "ISA-L (libisal.so.2)".
    public var description: String {
        switch self {
        case .zlib: return "zlib \(String(cString: zlibVersion()))"
        case .isal: return "ISA-L (\(logsurge_isal_library().map { String(cString: $0) } ?? "not loaded"))"
        }
    }
}

/// zlib in gzip mode (windowBits 15 + 16): checks each member's header, CRC-32 and length.
final class ZlibMember: GzipMemberInflater {
    static let keepsOutputOfFailedCall = true
    /// zlib keeps a pointer back to the stream: it lives at a fixed address.
    private let stream: UnsafeMutablePointer<z_stream>
    private var started: Int32

    init() {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        started = inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    }

    deinit {
        if started == Z_OK { inflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    func startMember() -> String? {
        let status = inflateReset(stream)
        return status == Z_OK ? nil : "gzip inflater failed (zlib error \(status))"
    }

    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> InflateStep {
        guard started == Z_OK else {
            return InflateStep(consumed: 0, produced: 0, outcome: .failed("cannot start the gzip inflater (zlib error \(started))"))
        }
        // zlib only reads through next_in.
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = UInt32(input.count)
        stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = UInt32(output.count)
        // In bounds: zlib reads at most avail_in and writes at most avail_out bytes.
        let status = CZlib.inflate(stream, Z_NO_FLUSH)
        let consumed = input.count - Int(stream.pointee.avail_in)
        let produced = output.count - Int(stream.pointee.avail_out)
        let outcome: InflateStep.Outcome
        switch status {
        case Z_OK, Z_BUF_ERROR: outcome = .progress
        case Z_STREAM_END: outcome = .memberEnd
        case Z_DATA_ERROR: outcome = .failed("gzip data damaged (\(Self.describe(stream.pointee.msg)))")
        case Z_NEED_DICT: outcome = .failed("gzip data damaged (needs a preset dictionary)")
        case Z_MEM_ERROR: outcome = .failed("out of memory while inflating gzip data")
        default: outcome = .failed("gzip inflater failed (zlib error \(status))")
        }
        return InflateStep(consumed: consumed, produced: produced, outcome: outcome)
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

/// ISA-L's inflater with `ISAL_GZIP`: parses each member's header, checks CRC-32 and length.
///
/// zlib refuses a header with an unknown method or reserved flag bits; ISA-L is not asked to
/// judge those, they are checked here so that both refuse the same files.
final class IsalMember: GzipMemberInflater {
    /// ISA-L may have written a few bytes past the damage: the call's output is dropped, and
    /// the replay with zlib gives what zlib would.
    static let keepsOutputOfFailedCall = false
    private let stream: OpaquePointer
    /// Header bytes of the current member seen so far, up to the flags byte.
    private var headerSeen = 0

    /// nil when ISA-L cannot be loaded.
    init?() {
        guard let stream = logsurge_isal_new() else { return nil }
        self.stream = stream
    }

    deinit { logsurge_isal_free(stream) }

    func startMember() -> String? {
        logsurge_isal_reset(stream)
        headerSeen = 0
        return nil
    }

    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> InflateStep {
        // input[0] is byte `headerSeen` of the member; bytes 2 and 3 are the method (8,
        // deflate) and the flags.
        var position = headerSeen
        while position < 4 && position - headerSeen < input.count {
            // In bounds: position - headerSeen < input.count.
            let byte = input[position - headerSeen]
            if position == 2 && byte != 8 {
                return InflateStep(consumed: 0, produced: 0, outcome: .failed("gzip data damaged (unknown compression method)"))
            }
            if position == 3 && byte & 0xE0 != 0 {
                return InflateStep(consumed: 0, produced: 0, outcome: .failed("gzip data damaged (unknown header flags set)"))
            }
            position += 1
        }
        // In bounds: ISA-L reads at most input.count and writes at most output.count bytes.
        let result = logsurge_isal_inflate(
            stream, input.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt32(input.count),
            output.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt32(output.count)
        )
        headerSeen = min(4, headerSeen + Int(result.consumed))
        let outcome: InflateStep.Outcome
        if result.status != 0 {
            outcome = .failed("gzip data damaged (\(String(cString: logsurge_isal_describe(result.status))))")
        } else {
            outcome = result.member_end != 0 ? .memberEnd : .progress
        }
        return InflateStep(consumed: Int(result.consumed), produced: Int(result.produced), outcome: outcome)
    }
}
