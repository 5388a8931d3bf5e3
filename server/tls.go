package server

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"os"
	"sync"
)

// certReloader serves the TLS certificate of Config.TLSCert/TLSKey and replaces it when the
// files change (checked every few seconds by the janitor) or on ReloadTLS (SIGHUP in the
// binary). A certificate that fails to load is logged and the previous one kept: a botched
// renewal does not take the server down. Safe for concurrent use.
type certReloader struct {
	certFile, keyFile string

	mu   sync.RWMutex
	cert *tls.Certificate
	sum  [32]byte // of both files as last loaded
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile}
	if _, err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// files returns the two files' contents and their digest.
func (c *certReloader) files() (certPEM, keyPEM []byte, sum [32]byte, err error) {
	if certPEM, err = os.ReadFile(c.certFile); err != nil {
		return nil, nil, sum, fmt.Errorf("tls cert: %w", err)
	}
	if keyPEM, err = os.ReadFile(c.keyFile); err != nil {
		return nil, nil, sum, fmt.Errorf("tls key: %w", err)
	}
	return certPEM, keyPEM, sha256.Sum256(append(append(bytes.Clone(certPEM), 0), keyPEM...)), nil
}

// reload loads the files if they differ from what is loaded; it reports whether it replaced
// the certificate.
func (c *certReloader) reload() (bool, error) {
	certPEM, keyPEM, sum, err := c.files()
	if err != nil {
		return false, err
	}
	c.mu.RLock()
	same := c.cert != nil && sum == c.sum
	c.mu.RUnlock()
	if same {
		return false, nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return false, fmt.Errorf("tls: %s / %s: %w", c.certFile, c.keyFile, err)
	}
	c.mu.Lock()
	c.cert, c.sum = &cert, sum
	c.mu.Unlock()
	return true, nil
}

func (c *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cert, nil
}

// tlsConfig is the listener's TLS configuration: HTTP/1.1 only (WebSocket upgrades hijack the
// connection, which HTTP/2 cannot), TLS 1.2 or later.
func (c *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{GetCertificate: c.get, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
}

// ReloadTLS re-reads the certificate and key files now (the binary calls it on SIGHUP). Without
// TLS configured it does nothing. On error the previous certificate stays in use.
func (srv *Server) ReloadTLS() error {
	if srv.certs == nil {
		return nil
	}
	changed, err := srv.certs.reload()
	if err != nil {
		srv.log.Error("tls certificate reload failed: keeping the previous one", "err", err)
		return err
	}
	if changed {
		srv.log.Info("tls certificate reloaded", "cert", srv.certs.certFile)
	}
	return nil
}
