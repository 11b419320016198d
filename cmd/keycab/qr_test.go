package main

import (
	"bytes"
	"image"
	"image/png"
	"testing"
)

func mustBlankPNG(tb testing.TB) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 100, 100))); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
