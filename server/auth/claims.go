package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxNumericDate is 9999-12-31T23:59:59Z: later (or negative) dates are refused rather than
// risk overflow in time arithmetic.
const maxNumericDate = 253402300799

// claimError is a claims-JSON refusal. Its text is fixed (never echoes claim values).
type claimError string

func (e claimError) Error() string { return string(e) }

// claims is the union of both token types' claims, decoded strictly (see UnmarshalJSON).
// It implements jwt.Claims so golang-jwt's validator checks exp/nbf/iat/iss/aud.
type claims struct {
	iss, sub, jti, name, match string
	aud                        jwt.ClaimStrings
	exp, nbf, iat              *jwt.NumericDate
	seat                       int64
	hasSeat                    bool
}

func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.exp, nil }
func (c *claims) GetNotBefore() (*jwt.NumericDate, error)      { return c.nbf, nil }
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.iat, nil }
func (c *claims) GetIssuer() (string, error)                   { return c.iss, nil }
func (c *claims) GetSubject() (string, error)                  { return c.sub, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)       { return c.aud, nil }

// UnmarshalJSON decodes a claims object strictly: the top level must be an object without
// duplicate names (compared after unescaping, so "\u0065xp" duplicates "exp"); each known
// claim must have its JSON type (null is not accepted); unknown claims are skipped.
func (c *claims) UnmarshalJSON(b []byte) error {
	*c = claims{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return claimError("claims are not JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return claimError("claims are not a JSON object")
	}
	seen := make(map[string]struct{}, 8)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return claimError("claims are not JSON")
		}
		key, ok := tok.(string)
		if !ok {
			return claimError("claims are not JSON")
		}
		if _, dup := seen[key]; dup {
			return claimError("duplicate claim")
		}
		seen[key] = struct{}{}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return claimError("claims are not JSON")
		}
		switch key {
		case "iss":
			err = decodeString(raw, &c.iss, "iss must be a string")
		case "sub":
			err = decodeString(raw, &c.sub, "sub must be a string")
		case "jti":
			err = decodeString(raw, &c.jti, "jti must be a string")
		case "name":
			err = decodeString(raw, &c.name, "name must be a string")
		case "match":
			err = decodeString(raw, &c.match, "match must be a string")
		case "aud":
			err = decodeAudience(raw, &c.aud)
		case "exp":
			c.exp, err = decodeDate(raw, "exp must be a number")
		case "nbf":
			c.nbf, err = decodeDate(raw, "nbf must be a number")
		case "iat":
			c.iat, err = decodeDate(raw, "iat must be a number")
		case "seat":
			c.seat, err = strconv.ParseInt(string(raw), 10, 64)
			if err != nil || c.seat < 0 || c.seat > MaxSeat {
				err = claimError("seat must be an integer in [0, 2^31)")
			}
			c.hasSeat = true
		}
		if err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return claimError("claims are not JSON")
	}
	return nil
}

func decodeString(raw json.RawMessage, dst *string, msg claimError) error {
	if len(raw) == 0 || raw[0] != '"' {
		return msg
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return msg
	}
	return nil
}

func decodeAudience(raw json.RawMessage, dst *jwt.ClaimStrings) error {
	const msg = claimError("aud must be a string or an array of strings")
	if len(raw) == 0 {
		return msg
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return msg
		}
		*dst = jwt.ClaimStrings{s}
		return nil
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return msg
		}
		out := make(jwt.ClaimStrings, len(elems))
		for i, e := range elems {
			if err := decodeString(e, &out[i], msg); err != nil {
				return err
			}
		}
		*dst = out
		return nil
	}
	return msg
}

// decodeDate accepts a JSON number (fractions allowed, as RFC 7519 permits) in
// [0, maxNumericDate] and nothing else: not a string holding a number, not null.
func decodeDate(raw json.RawMessage, msg claimError) (*jwt.NumericDate, error) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return nil, msg
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return nil, msg
	}
	sec, frac := math.Modf(f)
	return &jwt.NumericDate{Time: time.Unix(int64(sec), int64(frac*1e9))}, nil
}

var _ jwt.Claims = (*claims)(nil)
var _ json.Unmarshaler = (*claims)(nil)

// asClaimError finds a claimError wrapped by golang-jwt.
func asClaimError(err error) (claimError, bool) {
	var ce claimError
	ok := errors.As(err, &ce)
	return ce, ok
}
