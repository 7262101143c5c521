// The relay's self-signed certificate, checked against the pin it prints
// (`certificate sha256 HEX`, the SHA-256 of the DER certificate).
import tls from 'node:tls';
import crypto from 'node:crypto';

// Connect once, accept any certificate for the handshake only, and keep
// the certificate if and only if its DER SHA-256 equals `pinHex`.
// Returns the PEM (to trust exactly this certificate afterwards) and the
// base64 SHA-256 of its public key (Chromium's
// --ignore-certificate-errors-spki-list takes that).
export async function fetchPinnedCert(host, port, pinHex) {
  const der = await new Promise((resolve, reject) => {
    const sock = tls.connect({ host, port, rejectUnauthorized: false, servername: undefined }, () => {
      const cert = sock.getPeerCertificate(false);
      sock.end();
      if (!cert || !cert.raw) reject(new Error('the relay sent no certificate'));
      else resolve(cert.raw);
    });
    sock.on('error', reject);
  });
  const digest = crypto.createHash('sha256').update(der).digest('hex');
  if (digest !== pinHex.toLowerCase()) {
    throw new Error(`relay certificate sha256 ${digest} is not the pin ${pinHex}`);
  }
  const x509 = new crypto.X509Certificate(der);
  const spki = x509.publicKey.export({ type: 'spki', format: 'der' });
  return {
    pem: x509.toString(),
    pinHex: digest,
    spkiSha256Base64: crypto.createHash('sha256').update(spki).digest('base64'),
  };
}

// TLS options for node https/ws that trust exactly the pinned certificate
// (as the only CA) and check the pin again on every connection, ignoring
// host names as Lotse clients do.
export function pinnedTlsOptions(cert) {
  if (!cert) return {};
  return {
    ca: [cert.pem],
    checkServerIdentity: (_host, peer) => {
      const digest = crypto.createHash('sha256').update(peer.raw).digest('hex');
      return digest === cert.pinHex ? undefined : new Error(`certificate ${digest} is not the pinned one`);
    },
  };
}
