package channel

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSignatureFormat(t *testing.T) {
	body := []byte(`{"id":"n1"}`)
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write([]byte("1700000000." + string(body)))
	require.Equal(t, "t=1700000000,v1="+hex.EncodeToString(m.Sum(nil)), Sign("s3cret", 1700000000, body))
}

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"n1"}`)
	now := time.Unix(1700000000, 0)
	good := Sign("s3cret", now.Unix(), body)
	f := func(secret, header string, body []byte, want error) {
		t.Helper()
		err := Verify(secret, header, body, now, time.Minute)
		if want == nil {
			require.NoError(t, err, header)
		} else {
			require.ErrorIs(t, err, want, header)
		}
	}
	f("s3cret", good, body, nil)
	f("s3cret", " v1="+good[len("t=1700000000,v1="):]+" , t=1700000000", body, nil)
	f("wrong", good, body, ErrBadSignature)
	f("s3cret", good, []byte(`{"id":"n2"}`), ErrBadSignature)
	f("s3cret", "t=1700000000", body, ErrBadSignature)
	f("s3cret", "v1=00", body, ErrBadSignature)
	f("s3cret", "", body, ErrBadSignature)
	f("s3cret", Sign("s3cret", now.Add(-2*time.Minute).Unix(), body), body, ErrStaleRequest)
	f("s3cret", Sign("s3cret", now.Add(2*time.Minute).Unix(), body), body, ErrStaleRequest)
}
