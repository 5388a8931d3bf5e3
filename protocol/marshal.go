package protocol

import (
	"bytes"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

var encPool = sync.Pool{New: func() any {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetSortMapKeys(true)
	enc.UseCompactInts(true)
	enc.UseCompactFloats(false)
	return &pooledEnc{buf: &buf, enc: enc}
}}

type pooledEnc struct {
	buf *bytes.Buffer
	enc *msgpack.Encoder
}

func marshal(v any) ([]byte, error) {
	p := encPool.Get().(*pooledEnc)
	defer encPool.Put(p)
	p.buf.Reset()
	if err := p.enc.Encode(v); err != nil {
		return nil, err
	}
	return append([]byte(nil), p.buf.Bytes()...), nil
}
