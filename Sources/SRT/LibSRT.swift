#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few libsrt functions the listener calls, bound at run time with `dlopen`/`dlsym` so that building needs only
/// the toolchain and a server without the library still runs everything else. The signatures are those of libsrt
/// 1.4/1.5's `srt.h` (SRTSOCKET is an `int`).
public final class LibSRT: @unchecked Sendable {
    // @unchecked: every stored property is a C function pointer written once in `init` and never changed.
    typealias ListenCallback = @convention(c) (UnsafeMutableRawPointer?, Int32, Int32, UnsafePointer<sockaddr>?, UnsafePointer<CChar>?) -> Int32

    let startup: @convention(c) () -> Int32
    let createSocket: @convention(c) () -> Int32
    let setSockFlag: @convention(c) (Int32, Int32, UnsafeRawPointer?, Int32) -> Int32
    let getSockFlag: @convention(c) (Int32, Int32, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) -> Int32
    let bind: @convention(c) (Int32, UnsafePointer<sockaddr>?, Int32) -> Int32
    let listen: @convention(c) (Int32, Int32) -> Int32
    let accept: @convention(c) (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<Int32>?) -> Int32
    let listenCallback: @convention(c) (Int32, ListenCallback?, UnsafeMutableRawPointer?) -> Int32
    let recvmsg: @convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int32) -> Int32
    let close: @convention(c) (Int32) -> Int32
    let getSockName: @convention(c) (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<Int32>?) -> Int32
    let lastErrorString: @convention(c) () -> UnsafePointer<CChar>?
    /// `srt_bind_acquire` (1.4+): hands libsrt a UDP socket already bound, so its receiver thread starts only when the
    /// first caller knocks.
    let bindAcquire: (@convention(c) (Int32, Int32) -> Int32)?
    /// `srt_setrejectreason` (1.4.2+): the reason a refused caller is told.
    let setRejectReason: (@convention(c) (Int32, Int32) -> Int32)?
    /// `srt_setloghandler` and `srt_setlogflags`: libsrt's own messages go to our logger, not straight to stderr.
    let setLogHandler: (@convention(c) (UnsafeMutableRawPointer?, LogHandlerFunction?) -> Void)?
    let setLogFlags: (@convention(c) (Int32) -> Void)?
    /// Which file was opened.
    public let name: String

    /// Tried in order: Debian's OpenSSL build first (the package the README names), then the plain and GnuTLS builds.
    public static let candidateNames = [
        "libsrt-openssl.so.1.5", "libsrt.so.1.5", "libsrt-gnutls.so.1.5",
        "libsrt-openssl.so.1", "libsrt.so.1", "libsrt-gnutls.so.1", "libsrt.dylib",
    ]

    /// The library, loaded and started on first use; nil where the system has none.
    public static let shared: LibSRT? = {
        for name in candidateNames {
            if let library = LibSRT(name: name), library.startup() >= 0 {
                library.routeLogs()
                return library
            }
        }
        return nil
    }()

    private init?(name: String) {
        guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else { return nil }
        func symbol<T>(_ symbol: String, as type: T.Type) -> T? {
            guard let pointer = dlsym(handle, symbol) else { return nil }
            return unsafeBitCast(pointer, to: type)
        }
        guard let startup = symbol("srt_startup", as: (@convention(c) () -> Int32).self),
              let createSocket = symbol("srt_create_socket", as: (@convention(c) () -> Int32).self),
              let setSockFlag = symbol("srt_setsockflag", as: (@convention(c) (Int32, Int32, UnsafeRawPointer?, Int32) -> Int32).self),
              let getSockFlag = symbol("srt_getsockflag", as: (@convention(c) (Int32, Int32, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) -> Int32).self),
              let bind = symbol("srt_bind", as: (@convention(c) (Int32, UnsafePointer<sockaddr>?, Int32) -> Int32).self),
              let listen = symbol("srt_listen", as: (@convention(c) (Int32, Int32) -> Int32).self),
              let accept = symbol("srt_accept", as: (@convention(c) (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<Int32>?) -> Int32).self),
              let listenCallback = symbol("srt_listen_callback", as: (@convention(c) (Int32, ListenCallback?, UnsafeMutableRawPointer?) -> Int32).self),
              let recvmsg = symbol("srt_recvmsg", as: (@convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int32) -> Int32).self),
              let close = symbol("srt_close", as: (@convention(c) (Int32) -> Int32).self),
              let getSockName = symbol("srt_getsockname", as: (@convention(c) (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<Int32>?) -> Int32).self),
              let lastErrorString = symbol("srt_getlasterror_str", as: (@convention(c) () -> UnsafePointer<CChar>?).self)
        else {
            dlclose(handle)
            return nil
        }
        self.startup = startup
        self.createSocket = createSocket
        self.setSockFlag = setSockFlag
        self.getSockFlag = getSockFlag
        self.bind = bind
        self.listen = listen
        self.accept = accept
        self.listenCallback = listenCallback
        self.recvmsg = recvmsg
        self.close = close
        self.getSockName = getSockName
        self.lastErrorString = lastErrorString
        self.bindAcquire = symbol("srt_bind_acquire", as: (@convention(c) (Int32, Int32) -> Int32).self)
        self.setRejectReason = symbol("srt_setrejectreason", as: (@convention(c) (Int32, Int32) -> Int32).self)
        self.setLogHandler = symbol("srt_setloghandler", as: (@convention(c) (UnsafeMutableRawPointer?, LogHandlerFunction?) -> Void).self)
        self.setLogFlags = symbol("srt_setlogflags", as: (@convention(c) (Int32) -> Void).self)
        self.name = name
    }

    /// libsrt's message for the calling thread's last error.
    var lastError: String {
        lastErrorString().map { String(cString: $0) } ?? "unknown error"
    }

    /// Socket options used here (`SRT_SOCKOPT` in srt.h; stable since 1.3).
    enum Option: Int32 {
        case receiveSynchronous = 2
        case receiveTimeout = 14
        case latency = 23
        case passphrase = 26
        case streamID = 46
        case transmissionType = 50
    }

    @discardableResult
    func set(_ socket: Int32, _ option: Option, int value: Int32) -> Bool {
        var value = value
        return setSockFlag(socket, option.rawValue, &value, Int32(MemoryLayout<Int32>.size)) >= 0
    }

    @discardableResult
    func set(_ socket: Int32, _ option: Option, string value: String) -> Bool {
        var bytes = Array(value.utf8)
        return setSockFlag(socket, option.rawValue, &bytes, Int32(bytes.count)) >= 0
    }

    func string(_ socket: Int32, _ option: Option) -> String? {
        var buffer = [UInt8](repeating: 0, count: 520)
        var length = Int32(buffer.count)
        guard getSockFlag(socket, option.rawValue, &buffer, &length) >= 0, length >= 0 else { return nil }
        return String(decoding: buffer.prefix(Int(min(length, Int32(buffer.count)))), as: UTF8.self)
    }
}
