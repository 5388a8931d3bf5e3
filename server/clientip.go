package server

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// proxies is the set of trusted reverse proxies (Config.TrustedProxies). Only when a request's
// peer is one of them is X-Forwarded-For believed; by default the set is empty and the client is
// the TCP peer, so a client cannot pick its own address (and its own per-IP budget).
type proxies []netip.Prefix

// parseProxies reads "10.0.0.0/8", "192.0.2.7" or "::1" entries.
func parseProxies(list []string) (proxies, error) {
	var out proxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not an IP address or CIDR prefix", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (p proxies) trusted(a netip.Addr) bool {
	for _, pre := range p {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the request's client address: the TCP peer, or, when the peer is a trusted proxy,
// the right-most X-Forwarded-For entry that is not itself a trusted proxy (entries to its left
// were written by the client and prove nothing). A malformed entry stops the walk.
func (srv *Server) clientIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap().WithZone("")
	if len(srv.proxies) == 0 || !srv.proxies.trusted(peer) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return client // a malformed hop: trust nothing further left
			}
			a = a.Unmap().WithZone("")
			if !srv.proxies.trusted(a) {
				return a
			}
			client = a // every hop so far is a proxy of ours: the leftmost one is the client
		}
	}
	return client
}

// ipKey is the key of an address for per-IP limits: an IPv4 address, or an IPv6 address's /64
// (one subscriber usually holds a whole /64, so per-address limits would be free to evade).
func ipKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
