import COpenSSL

/// The lowest (or highest) protocol version a context accepts.
package enum TLSVersion: Sendable, Equatable {
    case tls1_2
    case tls1_3

    var openSSLValue: Int32 {
        switch self {
        case .tls1_2: TLS1_2_VERSION
        case .tls1_3: TLS1_3_VERSION
        }
    }
}

/// The TLS 1.2 cipher policy: forward-secret AEAD suites only (Mozilla "intermediate" without
/// DHE). TLS 1.3 suites are OpenSSL's defaults, which are all AEAD.
package let modernTLS12CipherList = [
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
].joined(separator: ":")

/// A listener's TLS: its certificate, the protocols it offers, and optional client certificates.
package struct TLSServerConfiguration: Sendable, Equatable {
    /// PEM file: the leaf certificate first, then the intermediates.
    package var certificateChainFile: String
    /// PEM file with the private key of the leaf certificate.
    package var privateKeyFile: String
    /// ALPN protocols in server preference order. Only `http/1.1` until the server speaks h2.
    package var applicationProtocols: [String]
    /// When set, every client must present a certificate that passes these checks.
    package var clientAuthentication: ClientAuthentication?
    package var minimumVersion: TLSVersion
    /// TLS 1.2 cipher suites in OpenSSL syntax (TLS 1.3 suites keep OpenSSL's defaults).
    package var tls12CipherList: String
    /// A client that has not finished its handshake by then is disconnected.
    package var handshakeTimeout: Duration

    /// Mutual TLS: the CA that issues client certificates and, optionally, the name the
    /// certificate must carry (Meta's is `client.webhooks.fbclientcerts.com`).
    package struct ClientAuthentication: Sendable, Equatable {
        /// PEM file with the CA certificate(s) client certificates must chain to.
        package var trustedCAFile: String
        /// Checked like a host name (RFC 6125): against the certificate's DNS names, or its
        /// subject CN when it has none. A mismatch fails the handshake.
        package var expectedSubjectName: String?

        package init(trustedCAFile: String, expectedSubjectName: String? = nil) {
            self.trustedCAFile = trustedCAFile
            self.expectedSubjectName = expectedSubjectName
        }
    }

    package init(
        certificateChainFile: String,
        privateKeyFile: String,
        applicationProtocols: [String] = ["http/1.1"],
        clientAuthentication: ClientAuthentication? = nil,
        minimumVersion: TLSVersion = .tls1_2,
        tls12CipherList: String = modernTLS12CipherList,
        handshakeTimeout: Duration = .seconds(10)
    ) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.applicationProtocols = applicationProtocols
        self.clientAuthentication = clientAuthentication
        self.minimumVersion = minimumVersion
        self.tls12CipherList = tls12CipherList
        self.handshakeTimeout = handshakeTimeout
    }
}

/// How outbound connections verify servers and present themselves.
package struct TLSClientConfiguration: Sendable, Equatable {
    package enum TrustRoots: Sendable, Equatable {
        /// The operating system's CA store (OpenSSL's default paths).
        case system
        /// Only the CA certificate(s) in this PEM file.
        case file(String)
    }

    package var trustRoots: TrustRoots
    /// PEM chain and key of a client certificate, for destinations that require one.
    package var certificateChainFile: String?
    package var privateKeyFile: String?
    /// ALPN protocols offered, in preference order.
    package var applicationProtocols: [String]
    package var minimumVersion: TLSVersion
    package var tls12CipherList: String
    package var handshakeTimeout: Duration

    package init(
        trustRoots: TrustRoots = .system,
        certificateChainFile: String? = nil,
        privateKeyFile: String? = nil,
        applicationProtocols: [String] = ["http/1.1"],
        minimumVersion: TLSVersion = .tls1_2,
        tls12CipherList: String = modernTLS12CipherList,
        handshakeTimeout: Duration = .seconds(10)
    ) {
        self.trustRoots = trustRoots
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.applicationProtocols = applicationProtocols
        self.minimumVersion = minimumVersion
        self.tls12CipherList = tls12CipherList
        self.handshakeTimeout = handshakeTimeout
    }
}

/// What a finished handshake agreed on.
package struct TLSConnectionInfo: Sendable, Equatable {
    /// `TLSv1.2` or `TLSv1.3`.
    package var protocolVersion: String
    package var cipher: String
    /// The ALPN protocol both sides chose (`http/1.1`, `h2`), nil when none was negotiated.
    package var applicationProtocol: String?
    /// The verified peer certificate's subject in RFC 2253 form (`CN=...,O=...`), when one was presented.
    package var peerSubject: String?
    /// The SNI name the client asked for (server side), or sent (client side).
    package var serverName: String?

    package init(protocolVersion: String, cipher: String, applicationProtocol: String?, peerSubject: String?, serverName: String?) {
        self.protocolVersion = protocolVersion
        self.cipher = cipher
        self.applicationProtocol = applicationProtocol
        self.peerSubject = peerSubject
        self.serverName = serverName
    }
}
