package scrub

import (
	"bytes"
	"net/http"
	"strconv"
)

// Handler returns h with every answer's body scrubbed before it is sent.
// Answers are buffered whole: expbot's are small (JSON acknowledgements,
// health, metrics).
func (s *Scrubber) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bw := &bufferedWriter{ResponseWriter: w}
		h.ServeHTTP(bw, r)
		body := headerBytes(s.Bytes(bw.buf.Bytes()))
		if len(body) != bw.buf.Len() {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		}
		if bw.status == 0 {
			bw.status = http.StatusOK
		}
		w.WriteHeader(bw.status)
		_, _ = w.Write(body) // the client may be gone; nothing to do then
	})
}

type bufferedWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.buf.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (b *bufferedWriter) Unwrap() http.ResponseWriter { return b.ResponseWriter }
