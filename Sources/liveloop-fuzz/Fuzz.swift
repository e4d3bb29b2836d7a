import Foundation
import NIOCore

// Built two ways. With `-sanitize=fuzzer -DFUZZING` (scripts/fuzz) `main` hands control to libFuzzer's driver, which
// calls the entry point below with each input; the harness is chosen by LIVELOOP_FUZZ_TARGET. Built normally it is a
// replayer: `liveloop-fuzz TARGET FILE…` runs files (a corpus, a crash) through a harness once each.

private let selected: (@Sendable (ByteBuffer) -> Void)? = {
    guard let name = ProcessInfo.processInfo.environment["LIVELOOP_FUZZ_TARGET"] else { return nil }
    return Harnesses.all[name]
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let harness = selected else {
        print("set LIVELOOP_FUZZ_TARGET to one of: \(Harnesses.all.keys.sorted().joined(separator: ", "))")
        exit(2)
    }
    let bytes = data.map { UnsafeBufferPointer(start: $0, count: size) } ?? UnsafeBufferPointer(start: nil, count: 0)
    harness(ByteBuffer(bytes: bytes))
    return 0
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@main
struct Fuzz {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv, fuzzOneInput))
    }
}
#else
@main
struct Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let harness = Harnesses.all[name] else {
            print("usage: liveloop-fuzz TARGET FILE…   targets: \(Harnesses.all.keys.sorted().joined(separator: ", "))")
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: path)).map { $0.map { path + "/" + $0 } } ?? [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                harness(ByteBuffer(bytes: data))
                count += 1
            }
        }
        print("\(name): \(count) inputs, no crash")
    }
}
#endif
