// Command jwtcheck cross-checks the collection's NATS JWT code against the
// reference Go library (github.com/nats-io/jwt/v2).
//
//	jwtcheck issue  < seeds.json   prints operator, account and user JWTs
//	jwtcheck verify < tokens.txt   prints a JSON verdict on each JWT
//
// `issue` made the fixtures under tests/unit/fixtures/jwt once; `verify` lets
// the unit tests ask the reference library whether the JWTs written by the
// Python code decode, validate and carry good signatures.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	jwt "github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// seedNames lists the keys the fixture chain needs, read as a JSON object
// of name -> seed from stdin.
var seedNames = []string{
	"operator", "operator_signing", "sys_account", "app_account",
	"app_signing", "sys_user", "app_user",
}

// verdict is what `verify` reports for one token.
type verdict struct {
	Index          int             `json:"index"`
	Decoded        bool            `json:"decoded"`
	Error          string          `json:"error,omitempty"`
	Type           string          `json:"type,omitempty"`
	Name           string          `json:"name,omitempty"`
	Subject        string          `json:"sub,omitempty"`
	Issuer         string          `json:"iss,omitempty"`
	Valid          bool            `json:"valid"`
	Issues         []string        `json:"issues"`
	SignedByParent *bool           `json:"signed_by_parent,omitempty"`
	SameLayout     bool            `json:"same_layout"`
	Claims         json.RawMessage `json:"claims,omitempty"`
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: jwtcheck issue|verify")
	}
	var err error
	switch os.Args[1] {
	case "issue":
		err = issue()
	case "verify":
		err = verify()
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "jwtcheck:", msg)
	os.Exit(2)
}

// readKeys turns the seeds on stdin into key pairs and public keys by name.
func readKeys() (map[string]nkeys.KeyPair, map[string]string, error) {
	var seeds map[string]string
	if err := json.NewDecoder(os.Stdin).Decode(&seeds); err != nil {
		return nil, nil, fmt.Errorf("reading seeds: %w", err)
	}
	pairs := map[string]nkeys.KeyPair{}
	pubs := map[string]string{}
	for _, name := range seedNames {
		kp, err := nkeys.FromSeed([]byte(seeds[name]))
		if err != nil {
			return nil, nil, fmt.Errorf("seed %q: %w", name, err)
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return nil, nil, fmt.Errorf("seed %q: %w", name, err)
		}
		pairs[name], pubs[name] = kp, pub
	}
	return pairs, pubs, nil
}

// issue signs one fixed chain: operator REGION1 (with a signing key and the
// SYS system account), account SYS, account APP with limits and a signing
// key signed by the operator's signing key, user sys signed by SYS, and user
// app signed by APP's signing key.
func issue() error {
	kp, pub, err := readKeys()
	if err != nil {
		return err
	}

	op := jwt.NewOperatorClaims(pub["operator"])
	op.Name = "REGION1"
	op.SigningKeys.Add(pub["operator_signing"])
	op.AccountServerURL = "https://acs.example.com/jwt/v1"
	op.OperatorServiceURLs.Add("nats://nats1.example.com:4222", "tls://nats2.example.com:4222")
	op.SystemAccount = pub["sys_account"]

	sys := jwt.NewAccountClaims(pub["sys_account"])
	sys.Name = "SYS"

	app := jwt.NewAccountClaims(pub["app_account"])
	app.Name = "APP"
	app.Limits.Conn = 100
	app.Limits.Subs = 1000
	app.Limits.Payload = 1048576
	app.Limits.WildcardExports = false
	app.Limits.JetStreamLimits = jwt.JetStreamLimits{
		MemoryStorage: 1073741824,
		DiskStorage:   -1,
		Streams:       10,
		Consumer:      -1,
		MaxAckPending: 1000,
	}
	app.SigningKeys.Add(pub["app_signing"])

	sysUser := jwt.NewUserClaims(pub["sys_user"])
	sysUser.Name = "sys"

	// The name exercises encoding/json's HTML escaping.
	appUser := jwt.NewUserClaims(pub["app_user"])
	appUser.Name = "app <ops&dev>"
	appUser.IssuerAccount = pub["app_account"]
	appUser.Pub.Allow.Add("orders.>", "_INBOX.>")
	appUser.Pub.Deny.Add("orders.admin.>")
	appUser.Sub.Allow.Add("orders.*", "_INBOX.>")

	steps := []struct {
		name   string
		claims jwt.Claims
		signer string
	}{
		{"operator", op, "operator"},
		{"sys_account", sys, "operator"},
		{"app_account", app, "operator_signing"},
		{"sys_user", sysUser, "sys_account"},
		{"app_user", appUser, "app_signing"},
	}
	out := map[string]string{}
	for _, st := range steps {
		token, err := st.claims.Encode(kp[st.signer])
		if err != nil {
			return fmt.Errorf("encoding %s: %w", st.name, err)
		}
		out[st.name] = token
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// verify decodes every whitespace-separated token on stdin with the
// reference library. Besides signature and validation results it reports
// whether each token was signed by the operator or account given before it
// on stdin, and whether re-marshalling the decoded claims gives back the
// exact payload bytes (same field order and omissions as the library).
func verify() error {
	var tokens []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1024*1024), 1024*1024)
	sc.Split(bufio.ScanWords)
	for sc.Scan() {
		tokens = append(tokens, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return err
	}
	var operators []*jwt.OperatorClaims
	var accounts []*jwt.AccountClaims
	verdicts := []verdict{}
	allOK := true
	for i, token := range tokens {
		v, claims := inspect(i, token, operators, accounts)
		if !v.Decoded || !v.Valid || (v.SignedByParent != nil && !*v.SignedByParent) {
			allOK = false
		}
		switch c := claims.(type) {
		case *jwt.OperatorClaims:
			operators = append(operators, c)
		case *jwt.AccountClaims:
			accounts = append(accounts, c)
		}
		verdicts = append(verdicts, v)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]interface{}{"ok": allOK, "tokens": verdicts})
}

// inspect decodes one token and judges it; the claims are nil when the
// token does not decode.
func inspect(i int, token string, operators []*jwt.OperatorClaims, accounts []*jwt.AccountClaims) (verdict, jwt.Claims) {
	v := verdict{Index: i, Issues: []string{}}
	c, err := jwt.Decode(token)
	if err != nil {
		v.Error = err.Error()
		return v, nil
	}
	v.Decoded = true
	v.Type = string(c.ClaimType())
	v.Name = c.Claims().Name
	v.Subject = c.Claims().Subject
	v.Issuer = c.Claims().Issuer

	vr := jwt.CreateValidationResults()
	c.Validate(vr)
	for _, issue := range vr.Issues {
		v.Issues = append(v.Issues, issue.Description)
	}
	v.Valid = !vr.IsBlocking(true)

	if signed, known := signedByParent(c, operators, accounts); known {
		v.SignedByParent = &signed
	}
	remarshalled, err := json.Marshal(c)
	if err == nil {
		v.Claims = remarshalled
		payload, derr := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
		v.SameLayout = derr == nil && string(payload) == string(remarshalled)
	}
	return v, c
}

// signedByParent checks an account against the operators and a user against
// the accounts seen so far; known is false when no parent was given.
func signedByParent(c jwt.Claims, operators []*jwt.OperatorClaims, accounts []*jwt.AccountClaims) (signed bool, known bool) {
	switch claims := c.(type) {
	case *jwt.AccountClaims:
		for _, op := range operators {
			known = true
			if op.DidSign(claims) {
				return true, true
			}
		}
	case *jwt.UserClaims:
		for _, acc := range accounts {
			if claims.IssuerAccount != "" && claims.IssuerAccount != acc.Subject {
				continue
			}
			if claims.IssuerAccount == "" && claims.Issuer != acc.Subject {
				continue
			}
			known = true
			if acc.DidSign(claims) {
				return true, true
			}
		}
	}
	return false, known
}
