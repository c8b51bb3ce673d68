import COpenSSL
import CutoverLocking
import CutoverSockets

/// A server or client TLS configuration turned into an OpenSSL context, ready to make streams.
///
/// Reloadable: `reload()` reads the files again into a new OpenSSL context. Connections made
/// afterwards use the new one; established ones keep theirs (each stream holds its context).
package final class TLSContext: Sendable {
    package enum Role: Sendable, Equatable {
        case server(TLSServerConfiguration)
        case client(TLSClientConfiguration)
    }

    package let role: Role
    private let current: Locked<SSLContextHandle>

    /// Loads the certificate, key and trust settings; throws with OpenSSL's reason when a file
    /// is missing, unreadable or does not match.
    package convenience init(server configuration: TLSServerConfiguration) throws(TLSError) {
        try self.init(role: .server(configuration))
    }

    package convenience init(client configuration: TLSClientConfiguration = TLSClientConfiguration()) throws(TLSError) {
        try self.init(role: .client(configuration))
    }

    private init(role: Role) throws(TLSError) {
        self.role = role
        current = Locked(try SSLContextHandle(role))
    }

    /// Builds a new OpenSSL context from the same files (after a certificate renewal, on SIGHUP).
    /// On failure the current context stays in use.
    package func reload() throws(TLSError) {
        let role = role
        try current.withLock { (handle: inout SSLContextHandle) throws(TLSError) in
            handle = try SSLContextHandle(role)
        }
    }

    /// How long a peer gets to finish its handshake.
    package var handshakeTimeout: Duration {
        switch role {
        case .server(let configuration): configuration.handshakeTimeout
        case .client(let configuration): configuration.handshakeTimeout
        }
    }

    /// A server-side stream over an accepted socket; the handshake is still to be driven.
    package func makeServerStream(socket: Socket) throws(TLSError) -> TLSStream {
        guard case .server = role else { preconditionFailure("a client context cannot accept connections") }
        return try current.withLock { (handle: inout SSLContextHandle) throws(TLSError) -> TLSStream in
            try TLSStream(socket: socket, context: handle, isServer: true, serverName: nil)
        }
    }

    /// A client-side stream over a connected socket for `host`: SNI (for names) and host name or
    /// IP address verification against the server's certificate.
    package func makeClientStream(socket: Socket, host: String) throws(TLSError) -> TLSStream {
        guard case .client = role else { preconditionFailure("a server context cannot connect") }
        return try current.withLock { (handle: inout SSLContextHandle) throws(TLSError) -> TLSStream in
            try TLSStream(socket: socket, context: handle, isServer: false, serverName: host)
        }
    }
}

/// One OpenSSL context and what it points into (the ALPN preference list). Immutable once built;
/// every stream made from it holds it, so it outlives all of them.
final class SSLContextHandle {
    let pointer: OpaquePointer
    /// Server ALPN preference in wire format plus a zero terminator, read by the select callback.
    private let alpnPreference: UnsafeMutableBufferPointer<UInt8>?

    init(_ role: TLSContext.Role) throws(TLSError) {
        let isServer: Bool
        if case .server = role { isServer = true } else { isServer = false }
        guard let context = SSL_CTX_new(isServer ? TLS_server_method() : TLS_client_method()) else {
            throw .openSSL("creating a context")
        }
        var preference: UnsafeMutableBufferPointer<UInt8>?
        do throws(TLSError) {
            cutover_ssl_ctx_set_default_options(context, isServer ? 1 : 0)
            switch role {
            case .server(let configuration):
                try Self.configureCommon(
                    context, minimum: configuration.minimumVersion, cipherList: configuration.tls12CipherList
                )
                try Self.loadIdentity(context, chain: configuration.certificateChainFile, key: configuration.privateKeyFile)
                if let authentication = configuration.clientAuthentication {
                    try Self.requireClientCertificates(context, authentication)
                }
                if !configuration.applicationProtocols.isEmpty {
                    let wire = try Self.wireFormat(configuration.applicationProtocols) + [0]
                    let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: wire.count)
                    _ = buffer.initialize(from: wire)
                    preference = buffer
                    cutover_ssl_ctx_set_alpn_preference(context, buffer.baseAddress)
                }
            case .client(let configuration):
                try Self.configureCommon(
                    context, minimum: configuration.minimumVersion, cipherList: configuration.tls12CipherList
                )
                switch configuration.trustRoots {
                case .system:
                    guard SSL_CTX_set_default_verify_paths(context) == 1 else { throw .openSSL("loading the system CA store") }
                case .file(let path):
                    guard SSL_CTX_load_verify_locations(context, path, nil) == 1 else {
                        throw .openSSL("loading CA certificates from \(path)")
                    }
                }
                SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
                switch (configuration.certificateChainFile, configuration.privateKeyFile) {
                case (let chain?, let key?):
                    try Self.loadIdentity(context, chain: chain, key: key)
                case (nil, nil):
                    break
                default:
                    throw TLSError("loading the client certificate", reason: "a certificate chain file needs a private key file, and back")
                }
                if !configuration.applicationProtocols.isEmpty {
                    let wire = try Self.wireFormat(configuration.applicationProtocols)
                    // Inverted convention: 0 is success.
                    guard SSL_CTX_set_alpn_protos(context, wire, UInt32(wire.count)) == 0 else {
                        throw .openSSL("setting ALPN protocols")
                    }
                }
            }
        } catch {
            SSL_CTX_free(context)
            preference?.deallocate()
            throw error
        }
        pointer = context
        alpnPreference = preference
    }

    deinit {
        SSL_CTX_free(pointer)
        alpnPreference?.deallocate()
    }

    private static func configureCommon(_ context: OpaquePointer, minimum: TLSVersion, cipherList: String) throws(TLSError) {
        guard cutover_ssl_ctx_set_proto_versions(context, minimum.openSSLValue, TLS1_3_VERSION) == 1 else {
            throw .openSSL("setting protocol versions")
        }
        guard SSL_CTX_set_cipher_list(context, cipherList) == 1 else {
            throw .openSSL("setting the TLS 1.2 cipher list \(cipherList)")
        }
    }

    private static func loadIdentity(_ context: OpaquePointer, chain: String, key: String) throws(TLSError) {
        guard SSL_CTX_use_certificate_chain_file(context, chain) == 1 else {
            throw .openSSL("loading the certificate chain from \(chain)")
        }
        guard SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1 else {
            throw .openSSL("loading the private key from \(key)")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw .openSSL("matching the private key in \(key) to the certificate in \(chain)")
        }
    }

    private static func requireClientCertificates(
        _ context: OpaquePointer, _ authentication: TLSServerConfiguration.ClientAuthentication
    ) throws(TLSError) {
        let path = authentication.trustedCAFile
        guard SSL_CTX_load_verify_locations(context, path, nil) == 1 else {
            throw .openSSL("loading client CA certificates from \(path)")
        }
        // The CA names sent in CertificateRequest, so clients pick the matching certificate.
        guard let names = SSL_load_client_CA_file(path) else { throw .openSSL("reading client CA names from \(path)") }
        SSL_CTX_set_client_CA_list(context, names)
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        if let name = authentication.expectedSubjectName {
            guard X509_VERIFY_PARAM_set1_host(SSL_CTX_get0_param(context), name, name.utf8.count) == 1 else {
                throw .openSSL("setting the expected client certificate name \(name)")
            }
        }
        // Resumed sessions must carry the same verification context.
        let sessionContext = Array("cutover".utf8)
        guard SSL_CTX_set_session_id_context(context, sessionContext, UInt32(sessionContext.count)) == 1 else {
            throw .openSSL("setting the session id context")
        }
    }

    /// ALPN wire format: each name prefixed by its length (1...255 bytes).
    private static func wireFormat(_ protocols: [String]) throws(TLSError) -> [UInt8] {
        var wire: [UInt8] = []
        for name in protocols {
            let bytes = Array(name.utf8)
            guard (1...255).contains(bytes.count) else {
                throw TLSError("setting ALPN protocols", reason: "protocol name '\(name)' must be 1 to 255 bytes")
            }
            wire.append(UInt8(bytes.count))
            wire.append(contentsOf: bytes)
        }
        return wire
    }
}
