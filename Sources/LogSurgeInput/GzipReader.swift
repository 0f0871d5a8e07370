import Glibc

/// Inflates a gzip stream from a file descriptor straight into a `LineChunker`.
///
/// The framing is shared by both inflaters: at the end of a member the next bytes decide:
/// `1f 8b` starts another member, zero bytes up to the end of the file are padding, and
/// anything else is "trailing data after gzip member"; input that ends inside a member is
/// "gzip file truncated". Each member's header, deflate data, CRC-32 and length are checked by
/// the inflater (zlib's gzip mode, or ISA-L's `ISAL_GZIP`). Output blocks of `outputSize`
/// bytes are written directly into the chunker's buffer.
///
/// The two inflaters give identical results, damaged files included. They agree on every
/// valid stream; where ISA-L finds a member damaged or truncated, the member is read again
/// from its start with zlib, which skips the output ISA-L already gave and continues to the
/// end of the file, so that the lines kept, the error's offset and its message are zlib's.
/// That needs a seekable input: a pipe is inflated with zlib. Where zlib refuses the member
/// before the point ISA-L had reached (ISA-L decodes deflate data with an incomplete Huffman
/// code, which zlib refuses), the output ISA-L gave past zlib's is taken back from the
/// chunker. Two cases of such data stay apart, both only from damaged or crafted files: a
/// member that ISA-L reads to its end without error (zlib reports the damage, ISA-L does not),
/// and output ISA-L gave past zlib's that can no longer be taken back: already handed on in a
/// chunk, or part of a line dropped as too long (in practice, megabytes of it).
enum GzipReader {
    /// Reads the rest of `fileDescriptor`, whose first `have` bytes are already in `input`.
    ///
    /// Returns nil when the whole stream was read, or the error that ended it. Updates
    /// `stats.bytesRead` (on an error: the offset of the damage, the bytes consumed),
    /// `decompressedBytes` and `gzipMembers`.
    static func inflate(
        fileDescriptor: Int32, name: String, inflater: Inflater,
        input: UnsafeMutableRawBufferPointer, have: Int, outputSize: Int,
        chunker: inout LineChunker, stats: inout InputStats, stop: StopCheck? = nil, skip: Int64 = 0,
        emit: (LineChunk) throws -> Void
    ) rethrows -> InputError? {
        /// Where the descriptor stood before the first byte: replays seek relative to it.
        let origin = Int64(lseek(fileDescriptor, 0, SEEK_CUR)) - Int64(have)
        var framing = Framing(fileDescriptor: fileDescriptor, name: name, input: input, have: have, outputSize: outputSize)
        framing.stop = stop
        framing.skipOutput = max(0, skip)
        let outcome: Outcome
        // ISA-L's results equal zlib's only where a damaged member can be read again: a pipe
        // is inflated with zlib.
        let inflater = origin >= 0 ? inflater : .zlib
        stats.inflater = inflater
        switch inflater {
        case .zlib:
            outcome = try framing.run(ZlibMember(), chunker: &chunker, stats: &stats, emit: emit)
        case .isal:
            guard let isal = IsalMember() else {
                return InputError(path: name, offset: 0, message: "cannot start the ISA-L inflater")
            }
            let first = try framing.run(isal, chunker: &chunker, stats: &stats, emit: emit)
            guard case .failed(_, let member?) = first, origin >= 0,
                lseek(fileDescriptor, off_t(origin + member.start), SEEK_SET) >= 0
            else {
                outcome = first
                break
            }
            var replay = Framing(fileDescriptor: fileDescriptor, name: name, input: input, have: 0, outputSize: outputSize)
            replay.bufferOffset = member.start
            replay.skipOutput = member.output
            outcome = try replay.run(ZlibMember(), chunker: &chunker, stats: &stats, emit: emit)
            // zlib refused the member before the output ISA-L had given (ISA-L decodes some deflate
            // data that zlib refuses, such as an incomplete Huffman code): that output is taken
            // back while the chunker still holds it.
            if replay.skipOutput > 0 && chunker.retract(Int(replay.skipOutput)) {
                stats.decompressedBytes -= replay.skipOutput
            }
        }
        guard case .failed(let error, _) = outcome else { return nil }
        if let offset = error.offset { stats.bytesRead = offset }
        return error
    }

    /// How a run over the members ended.
    enum Outcome {
        case finished
        /// `member`, for a failure inside a member: the raw offset where it began and the
        /// bytes of output it gave; nil for a failure between members.
        case failed(InputError, member: (start: Int64, output: Int64)?)
    }

    /// The member-by-member walk over a file, with its own read buffer position.
    struct Framing {
        let fileDescriptor: Int32
        let name: String
        let input: UnsafeMutableRawBufferPointer
        let outputSize: Int
        /// Raw file offset of `input[0]`.
        var bufferOffset: Int64 = 0
        /// Unconsumed input is `input[start..<end]`.
        var start = 0
        var end: Int
        var endOfFile = false
        /// Output bytes still to be dropped before emitting (a replay's already-emitted part).
        var skipOutput: Int64 = 0
        /// Ends a wait for input that should not go on (see `FileIO.read`).
        var stop: StopCheck?

        init(fileDescriptor: Int32, name: String, input: UnsafeMutableRawBufferPointer, have: Int, outputSize: Int) {
            self.fileDescriptor = fileDescriptor
            self.name = name
            self.input = input
            self.end = have
            self.outputSize = outputSize
        }

        /// Raw file offset of the next byte not consumed.
        var consumedOffset: Int64 { bufferOffset + Int64(start) }

        /// Moves the unconsumed bytes to the front and reads more after them.
        mutating func refill(stats: inout InputStats) -> InputError? {
            let keep = end - start
            // In bounds: input[start..<end] is inside input.
            if keep > 0 && start > 0 { input.baseAddress!.copyMemory(from: input.baseAddress! + start, byteCount: keep) }
            bufferOffset += Int64(start)
            start = 0
            end = keep
            // In bounds: keep < input.count (refill is only called with at most one byte kept).
            let count = FileIO.read(fileDescriptor, into: input.baseAddress! + keep, count: input.count - keep, stop: stop)
            let readPosition = bufferOffset + Int64(keep)
            if count < 0 {
                return InputError(
                    path: name, offset: readPosition,
                    message: "read error: \(FileIO.message(Int32(-count))) at byte \(readPosition)"
                )
            }
            if count == 0 { endOfFile = true }
            stats.bytesRead = max(stats.bytesRead, readPosition + Int64(count))
            end = keep + count
            return nil
        }

        func failure(_ message: String) -> InputError {
            InputError(path: name, offset: consumedOffset, message: "\(message) at byte \(consumedOffset)")
        }

        mutating func run<Member: GzipMemberInflater>(
            _ member: Member, chunker: inout LineChunker, stats: inout InputStats,
            emit: (LineChunk) throws -> Void
        ) rethrows -> Outcome {
            var inMember = true
            var sawPadding = false
            var memberStart = consumedOffset
            var memberOutput: Int64 = 0
            var scratch: [UInt8] = skipOutput > 0 ? Array(repeating: 0, count: outputSize) : []
            func failed(_ error: InputError) -> Outcome {
                .failed(error, member: inMember ? (memberStart, memberOutput) : nil)
            }

            while true {
                if inMember {
                    if start == end && !endOfFile {
                        if let error = refill(stats: &stats) { return failed(error) }
                        continue
                    }
                    // At the end of the file inside a member, the inflater is asked again with no
                    // input: it may hold output that did not fit the last call's room. Once it
                    // gives nothing more, the file is truncated.
                    let draining = start == end
                    let available = UnsafeRawBufferPointer(rebasing: input[start..<end])
                    var step = InflateStep(consumed: 0, produced: 0, outcome: .progress)
                    if skipOutput > 0 {
                        let room = Int(min(skipOutput, Int64(scratch.count)))
                        scratch.withUnsafeMutableBytes { output in
                            step = member.inflate(available, into: UnsafeMutableRawBufferPointer(rebasing: output[..<room]))
                        }
                        skipOutput -= Int64(step.produced)
                    } else {
                        let produced = try chunker.fill(minimumCapacity: outputSize, emit: emit) { output in
                            let room = min(output.count, outputSize)
                            // In bounds: the inflater writes at most `room` <= output.count bytes.
                            step = member.inflate(available, into: UnsafeMutableRawBufferPointer(rebasing: output[..<room]))
                            if case .failed = step.outcome, !Member.keepsOutputOfFailedCall { step.produced = 0 }
                            return step.produced
                        }
                        stats.decompressedBytes += Int64(produced)
                    }
                    start += step.consumed
                    memberOutput += Int64(step.produced)
                    switch step.outcome {
                    case .progress:
                        // A call that neither read nor wrote, with input and room left, would spin.
                        if step.consumed == 0 && step.produced == 0 {
                            return failed(failure(draining ? "gzip file truncated" : "gzip inflater made no progress"))
                        }
                    case .memberEnd:
                        stats.gzipMembers += 1
                        inMember = false
                    case .failed(let message):
                        return failed(failure(message))
                    }
                } else {
                    // Between members: another member, zero padding to the end, or trailing data.
                    if start == end {
                        if endOfFile { return .finished }
                        if let error = refill(stats: &stats) { return failed(error) }
                        continue
                    }
                    let bytes = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    var zeros = start
                    // In bounds: zeros < end <= input.count.
                    while zeros < end && bytes[zeros] == 0 { zeros += 1 }
                    if zeros > start {
                        sawPadding = true
                        start = zeros
                        continue
                    }
                    // In bounds: start < end.
                    if sawPadding || bytes[start] != 0x1F { return failed(failure("trailing data after gzip member")) }
                    if end - start < 2 {
                        if endOfFile { return failed(failure("trailing data after gzip member")) }
                        if let error = refill(stats: &stats) { return failed(error) }
                        continue
                    }
                    // In bounds: end - start >= 2.
                    if bytes[start + 1] != 0x8B { return failed(failure("trailing data after gzip member")) }
                    if let message = member.startMember() { return failed(failure(message)) }
                    memberStart = consumedOffset
                    memberOutput = 0
                    inMember = true
                }
            }
        }
    }
}

/// What one inflate call did.
struct InflateStep {
    var consumed: Int
    var produced: Int
    var outcome: Outcome

    enum Outcome {
        case progress
        /// The member ended, its trailer checked; `consumed` stops right after it.
        case memberEnd
        /// Damaged data, named plainly ("gzip data damaged (…)").
        case failed(String)
    }
}

/// One gzip inflater, fed member after member by `GzipReader.Framing`.
protocol GzipMemberInflater {
    /// Whether the output of a call that found damage is what zlib gives up to that point.
    static var keepsOutputOfFailedCall: Bool { get }
    /// Prepares for the next member; returns a message when that fails.
    func startMember() -> String?
    /// Inflates from `input` into `output`: gzip header, deflate data and checked trailer.
    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> InflateStep
}
