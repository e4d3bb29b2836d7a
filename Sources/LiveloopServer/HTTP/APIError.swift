import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Storage

/// An error answered as JSON: `{"error": {"code": "...", "message": "..."}}` with a stable code per case.
public struct APIError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var extraHeaders: HTTPFields = [:]
    /// For a refusal by a tenant quota: which quota (`channels`, `viewers`, `publishers`) and its limit.
    public var quota: String?
    public var limit: Int?
    /// For a refusal for a missing API key scope: the scope the call needs.
    public var scope: String?

    public init(_ status: HTTPResponse.Status, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not_found", message: message) }
    public static func badRequest(_ message: String) -> APIError { APIError(.badRequest, code: "bad_request", message: message) }
    public static let unauthorized = APIError(.unauthorized, code: "unauthorized", message: "a valid API key is required (Authorization: Bearer …)")

    public var headers: HTTPFields {
        var headers = extraHeaders
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return headers
    }

    struct Body: Encodable {
        struct Inner: Encodable {
            var code: String
            var message: String
            var quota: String?
            var limit: Int?
            var scope: String?
        }
        var error: Inner
    }

    var body: Body { Body(error: .init(code: code, message: message, quota: quota, limit: limit, scope: scope)) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = (try? JSONEncoder().encode(body)) ?? Data("{}".utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Turns every error a route throws, and unknown routes, into a JSON error body.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            let code = switch error.status {
            case .notFound: "not_found"
            case .badRequest: "bad_request"
            case .unauthorized: "unauthorized"
            case .methodNotAllowed: "method_not_allowed"
            case .contentTooLarge: "too_large"
            default: "http_\(error.status.code)"
            }
            let message = error.body ?? (error.status == .notFound ? "no such resource: \(request.uri.path)" : error.status.reasonPhrase)
            throw APIError(error.status, code: code, message: message)
        } catch let error as DecodingError {
            throw APIError.badRequest("malformed JSON body: \(error)")
        } catch let error where StoreAvailability.isUnavailable(error) {
            throw APIError(.serviceUnavailable, code: "unavailable", message: "the database is unavailable; try again shortly")
        } catch is NIOTooManyBytesError {
            // `request.body.collect(upTo:)` past its limit: Hummingbird's own answer is a 413 with no body.
            throw APIError(.contentTooLarge, code: "too_large", message: "the request body is larger than this endpoint accepts")
        }
    }
}

extension APIError {
    /// The error as a whole HTTP/1.1 response that closes the connection, for the places that answer below the router
    /// (a connection refused at accept, a request head that is too large or too slow).
    func rawHTTPResponse() -> ByteBuffer {
        let body = (try? JSONEncoder().encode(self.body)) ?? Data("{}".utf8)
        var buffer = ByteBuffer()
        buffer.writeString("HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n")
        for field in headers { buffer.writeString("\(field.name.canonicalName): \(field.value)\r\n") }
        buffer.writeString("content-length: \(body.count)\r\nconnection: close\r\n\r\n")
        buffer.writeBytes(body)
        return buffer
    }
}
