import HTTPTypes
import Interaction

extension Authenticator {
    /// A viewer signed in by the customer's site: a token signed with the channel's signing key.
    func channelKeyIdentity(_ token: String, channel: String, _ audience: AudienceDirectory) async throws -> Identity {
        do throws(AudienceDirectory.TokenError) {
            return try await audience.identity(token: token, channel: channel)
        } catch .wrongChannel {
            throw APIError(.forbidden, code: "forbidden", message: "this token is for another channel")
        } catch .revoked {
            throw APIError(.unauthorized, code: "unauthorized", message: "this token has been revoked")
        } catch .playbackOnly {
            throw APIError(.unauthorized, code: "unauthorized", message: "a playback token plays the video but does not sign in")
        } catch {
            throw APIError(.unauthorized, code: "unauthorized", message: "invalid or expired token")
        }
    }
}
