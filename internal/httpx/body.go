package httpx

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"strconv"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/gofiber/fiber/v2"
	"github.com/klauspost/compress/zstd"
)

// ReadBody reads a request's body, at most limit bytes after decoding its
// Content-Encoding, and puts it where c.Body() finds it. Mount it after
// the key check: the server itself reads no more than a few KiB of a body
// (StreamRequestBody), so a client without a key, or one that declares a
// body over the limit, is refused before the rest of its body is read.
//
// A body is decoded as a stream and cut at the limit, so a small
// compressed body cannot grow into gigabytes in memory. It takes at most
// one encoding: nesting adds nothing a client needs and multiplies what a
// bomb can do.
func ReadBody(limit int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		req := c.Request()
		length := req.Header.ContentLength()
		if length > limit {
			return tooLarge(limit, "the request body")
		}
		decode, err := decoder(req.Header.PeekAll(fiber.HeaderContentEncoding))
		if err != nil {
			return err
		}
		// A body short enough for the server to have read it whole is
		// used where it lies; a longer one is read from its stream, which
		// req.Body would read without a limit.
		var body []byte
		replaced := false
		if req.IsBodyStream() {
			b, over, err := readLimited(req.BodyStream(), limit, length)
			switch {
			case over:
				return tooLarge(limit, "the request body")
			case err != nil:
				return NewError(fiber.StatusBadRequest, CodeInvalidBody, "the request body could not be read whole")
			}
			body, replaced = b, true
		} else if body = req.Body(); len(body) > limit {
			return tooLarge(limit, "the request body")
		}
		if decode != nil {
			if body, err = decodeBody(decode, body, limit); err != nil {
				return err
			}
			req.Header.Del(fiber.HeaderContentEncoding)
			replaced = true
		}
		if replaced {
			req.SetBodyRaw(body)
		}
		return c.Next()
	}
}

func tooLarge(limit int, what string) error {
	return NewError(fiber.StatusRequestEntityTooLarge, CodeTooLarge,
		what+" is over the limit of "+strconv.Itoa(limit)+" bytes")
}

// readLimited reads r whole into a buffer sized by hint (a declared
// length, or 0 when unknown), stopping with over set once it passes limit
// bytes.
func readLimited(r io.Reader, limit, hint int) (body []byte, over bool, err error) {
	var buf bytes.Buffer
	buf.Grow(min(max(hint, 0), limit) + 1)
	n, err := buf.ReadFrom(io.LimitReader(r, int64(limit)+1))
	if n > int64(limit) {
		return nil, true, nil
	}
	return buf.Bytes(), false, err
}

// decodeBody decodes body as a stream, refusing it once the decoded bytes
// pass limit.
func decodeBody(decode decodeFunc, body []byte, limit int) ([]byte, error) {
	bad := NewError(fiber.StatusBadRequest, CodeInvalidBody, "the request body does not decode as its Content-Encoding says")
	r, err := decode(body)
	if err != nil {
		return nil, bad
	}
	defer r.Close()
	decoded, over, err := readLimited(r, limit, 0)
	switch {
	case over:
		return nil, tooLarge(limit, "the decoded request body")
	case err != nil:
		return nil, bad
	}
	return decoded, nil
}

// decodeFunc reads a body in one Content-Encoding.
type decodeFunc func(body []byte) (io.ReadCloser, error)

// encodings are the Content-Encodings a body may have.
var encodings = map[string]decodeFunc{
	"identity": nil,
	"gzip":     func(b []byte) (io.ReadCloser, error) { return gzip.NewReader(bytes.NewReader(b)) },
	"x-gzip":   func(b []byte) (io.ReadCloser, error) { return gzip.NewReader(bytes.NewReader(b)) },
	"deflate":  newDeflate,
	"br":       func(b []byte) (io.ReadCloser, error) { return io.NopCloser(brotli.NewReader(bytes.NewReader(b))), nil },
	"zstd": func(b []byte) (io.ReadCloser, error) {
		// zstd's own default window; a frame asking for more is refused
		// rather than allocated.
		d, err := zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(8<<20), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	},
}

// newDeflate reads RFC 9110's deflate, which is zlib-wrapped, or the raw
// deflate some clients send instead.
func newDeflate(b []byte) (io.ReadCloser, error) {
	if z, err := zlib.NewReader(bytes.NewReader(b)); err == nil {
		return z, nil
	}
	return flate.NewReader(bytes.NewReader(b)), nil
}

var errEncodings = NewError(fiber.StatusUnsupportedMediaType, CodeUnsupportedMedia,
	"Content-Encoding must be one of gzip, deflate, br, zstd or identity, and only one")

// decoder returns the decoder of the one Content-Encoding the headers
// name, nil for none or identity.
func decoder(headers [][]byte) (decodeFunc, error) {
	var names []string
	for _, h := range headers {
		for name := range strings.SplitSeq(string(h), ",") {
			if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
				names = append(names, name)
			}
		}
	}
	switch len(names) {
	case 0:
		return nil, nil
	case 1:
		if d, ok := encodings[names[0]]; ok {
			return d, nil
		}
	}
	return nil, errEncodings
}
