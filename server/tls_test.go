package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/tickrelay/tickrelay/protocol"
)

// testCA is a throwaway CA that signs certificates for 127.0.0.1.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tickrelay test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue writes a leaf certificate for 127.0.0.1 with serial to certFile/keyFile.
func (ca *testCA) issue(t *testing.T, serial int64, certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// HTTPS and WSS on one port with a certificate the test made: a real gws client plays over
// wss, and a renewed certificate is served after a reload (SIGHUP) or a file change.
func TestTLSServesHTTPSAndWSSWithReload(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.issue(t, 100, certFile, keyFile)
	srv, err := New(Config{Secret: testSecret, Log: slog.New(slog.DiscardHandler), TLSCert: certFile, TLSKey: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	addr := ln.Addr().String()
	tlsConf := &tls.Config{RootCAs: ca.pool}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}}
	t.Cleanup(hc.CloseIdleConnections)
	post := func(path, token string, body any, out any) int {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", "https://"+addr+path, bytes.NewReader(b))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(out)
		return resp.StatusCode
	}
	var g struct{ Token string }
	if st := post("/v1/auth/guest", "", map[string]string{"name": "tls"}, &g); st != 200 {
		t.Fatalf("guest over https: %d", st)
	}
	var cr created
	if st := post("/v1/matches", g.Token, map[string]any{"game": "arena"}, &cr); st != 201 {
		t.Fatalf("create over https: %d", st)
	}
	if want := "wss://" + addr + "/ws"; cr.Reservation.Address != want {
		t.Fatalf("reservation address %q, want %q", cr.Reservation.Address, want)
	}
	// Plain HTTP on the TLS port gets no API.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP answered on the TLS port")
		}
	}
	ts := &testServer{t: t, srv: srv, ws: cr.Reservation.Address}
	c, st, err := ts.dialWith(g.Token, nil, func(o *gws.ClientOption) { o.TlsConfig = tlsConf })
	if err != nil {
		t.Fatalf("wss dial: %d %v", st, err)
	}
	c.expect(protocol.OpWelcome)
	c.join("", cr.Reservation.Ticket)
	c.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: 1, Payload: []byte{0x92, 1, 0}})
	for {
		if m := c.next(); m.Op == protocol.OpDelta && m.HasAck && m.Ack == 1 {
			break
		}
	}

	serial := func() int64 {
		conn, err := tls.Dial("tcp", addr, tlsConf)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if s := serial(); s != 100 {
		t.Fatalf("serving serial %d", s)
	}
	ca.issue(t, 101, certFile, keyFile)
	if err := srv.ReloadTLS(); err != nil { // what SIGHUP does
		t.Fatal(err)
	}
	if s := serial(); s != 101 {
		t.Fatalf("after a reload: serial %d, want 101", s)
	}
	// A broken renewal is refused and the working certificate kept.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := srv.ReloadTLS(); err == nil {
		t.Fatal("a broken certificate was loaded")
	}
	if s := serial(); s != 101 {
		t.Fatalf("after a broken renewal: serial %d, want 101", s)
	}
	// The janitor's check picks up a changed file by itself (every 3 s).
	ca.issue(t, 102, certFile, keyFile)
	deadline := time.Now().Add(10 * time.Second)
	for serial() != 102 {
		if time.Now().After(deadline) {
			t.Fatal("a renewed certificate file was not picked up within 10 s")
		}
		time.Sleep(100 * time.Millisecond) // waiting for the janitor's next look, as a renewal would
	}
	// The connection opened before the renewals still works.
	c.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: 2, Payload: []byte{0x92, 1, 0}})
	for {
		if m := c.next(); m.Op == protocol.OpDelta && m.HasAck && m.Ack == 2 {
			break
		}
	}
}
