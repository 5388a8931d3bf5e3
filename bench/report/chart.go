package report

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"sort"
	"strconv"

	"github.com/tickrelay/tickrelay/bench/internal/result"
)

const noisyNote = "MEDIANS, NOISY RUNS LEFT OUT"

var (
	white   = color.RGBA{255, 255, 255, 255}
	black   = color.RGBA{30, 30, 30, 255}
	grey    = color.RGBA{215, 215, 215, 255}
	red     = color.RGBA{200, 40, 40, 255}
	palette = []color.RGBA{
		{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255},
		{148, 103, 189, 255}, {140, 86, 75, 255}, {23, 190, 207, 255},
	}
)

const (
	chartW = 1200
	chartH = 560
	scale  = 2   // font scale
	latCap = 300 // ms: the latency axis stops here, higher points sit on its top edge
)

// WriteChart draws the load runs of rs (arena and floor, medians per clients count, noisy runs
// left out) as two
// panels: latency p99 (solid) and p50 (dashed) with the 100 ms verdict line, and server CPU in
// cores, both against clients. A crossed marker is a point where some run failed the verdict.
func WriteChart(w io.Writer, rs []result.Result) error {
	img := image.NewRGBA(image.Rect(0, 0, chartW, chartH))
	fill(img, img.Bounds(), white)
	ss := series(rs)
	names := make([]string, 0, len(ss))
	for n := range ss {
		names = append(names, n)
	}
	sort.Strings(names)

	maxClients, maxLat, maxCores := 0.0, 0.0, 0.0
	for _, pts := range ss {
		for _, p := range pts {
			maxClients = math.Max(maxClients, float64(p.clients))
			maxLat = math.Max(maxLat, p.p99)
			maxCores = math.Max(maxCores, p.cores)
		}
	}
	if len(names) == 0 {
		drawText(img, 40, chartH/2, "NO ARENA OR FLOOR RESULTS", scale, black)
		return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, img)
	}
	maxLat = math.Max(maxLat*1.1, 110) // always show the 100 ms line
	latTitle := "LATENCY MS: P99 SOLID, P50 DASHED"
	if maxLat > latCap {
		maxLat = latCap
		latTitle += fmt.Sprintf(" (CUT AT %d)", int(latCap))
	}
	maxCores = math.Max(maxCores*1.15, 0.1)
	maxClients *= 1.05

	left := panel{x0: 90, y0: 60, x1: chartW/2 - 30, y1: chartH - 110, xmax: maxClients, ymax: maxLat}
	right := panel{x0: chartW/2 + 70, y0: 60, x1: chartW - 30, y1: chartH - 110, xmax: maxClients, ymax: maxCores}
	left.frame(img, latTitle, "CLIENTS")
	right.frame(img, "SERVER CPU (CORES)", "CLIENTS")
	left.hline(img, 100, red, "100 MS")

	for i, n := range names {
		c := palette[i%len(palette)]
		pts := ss[n]
		for j := range pts {
			p := pts[j]
			if j > 0 {
				q := pts[j-1]
				left.line(img, float64(q.clients), q.p99, float64(p.clients), p.p99, c, 3, false)
				left.line(img, float64(q.clients), q.p50, float64(p.clients), p.p50, c, 2, true)
				if q.cores > 0 && p.cores > 0 {
					right.line(img, float64(q.clients), q.cores, float64(p.clients), p.cores, c, 3, false)
				}
			}
			left.marker(img, float64(p.clients), p.p99, c, p.anyFailure)
			left.marker(img, float64(p.clients), p.p50, c, false)
			if p.cores > 0 { // 0: the server's pid was unknown
				right.marker(img, float64(p.clients), p.cores, c, p.anyFailure)
			}
		}
		// legend
		lx := 90 + (i%3)*360
		ly := chartH - 50 + (i/3)*22
		fill(img, image.Rect(lx, ly+3, lx+28, ly+9), c)
		drawText(img, lx+36, ly, n, scale, black)
	}
	drawText(img, chartW-30-textWidth(noisyNote, scale), chartH-28, noisyNote, scale, grey)
	return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, img)
}

type panel struct {
	x0, y0, x1, y1 int // pixel box of the plotting area
	xmax, ymax     float64
}

func (p panel) px(x, y float64) (int, int) {
	return p.x0 + int(math.Round(x/p.xmax*float64(p.x1-p.x0))), p.y1 - int(math.Round(y/p.ymax*float64(p.y1-p.y0)))
}

func (p panel) frame(img *image.RGBA, title, xlabel string) {
	// grid and ticks
	for _, v := range ticks(p.ymax) {
		_, y := p.px(0, v)
		hline(img, p.x0, p.x1, y, grey)
		s := label(v)
		drawText(img, p.x0-10-textWidth(s, scale), y-glyphH*scale/2, s, scale, black)
	}
	for _, v := range ticks(p.xmax) {
		x, _ := p.px(v, 0)
		vline(img, x, p.y0, p.y1, grey)
		s := label(v)
		drawText(img, x-textWidth(s, scale)/2, p.y1+10, s, scale, black)
	}
	hline(img, p.x0, p.x1, p.y1, black)
	vline(img, p.x0, p.y0, p.y1, black)
	drawText(img, p.x0, p.y0-35, title, scale, black)
	drawText(img, (p.x0+p.x1)/2-textWidth(xlabel, scale)/2, p.y1+32, xlabel, scale, black)
}

func (p panel) hline(img *image.RGBA, v float64, c color.RGBA, text string) {
	if v > p.ymax {
		return
	}
	_, y := p.px(0, v)
	for x := p.x0; x < p.x1; x++ {
		if (x/8)%2 == 0 {
			img.Set(x, y, c)
			img.Set(x, y+1, c)
		}
	}
	drawText(img, p.x1-textWidth(text, scale), y-glyphH*scale-4, text, scale, c)
}

func (p panel) line(img *image.RGBA, xa, ya, xb, yb float64, c color.RGBA, thick int, dashed bool) {
	x0, y0 := p.px(xa, math.Min(ya, p.ymax))
	x1, y1 := p.px(xb, math.Min(yb, p.ymax))
	drawLine(img, x0, y0, x1, y1, c, thick, dashed)
}

func (p panel) marker(img *image.RGBA, x, y float64, c color.RGBA, cross bool) {
	cx, cy := p.px(x, math.Min(y, p.ymax))
	if cross {
		drawLine(img, cx-6, cy-6, cx+6, cy+6, red, 2, false)
		drawLine(img, cx-6, cy+6, cx+6, cy-6, red, 2, false)
		return
	}
	fill(img, image.Rect(cx-4, cy-4, cx+5, cy+5), c)
}

// drawLine is Bresenham with a square pen of size thick; dashed skips every other 6 px.
func drawLine(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA, thick int, dashed bool) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	e := dx + dy
	n := 0
	for {
		if !dashed || (n/6)%2 == 0 {
			fill(img, image.Rect(x0-thick/2, y0-thick/2, x0-thick/2+thick, y0-thick/2+thick), c)
		}
		n++
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	if r.Empty() {
		return
	}
	px := [4]byte{c.R, c.G, c.B, c.A}
	row := img.Pix[img.PixOffset(r.Min.X, r.Min.Y) : img.PixOffset(r.Max.X-1, r.Min.Y)+4]
	for i := 0; i < len(row); i += 4 {
		copy(row[i:i+4], px[:])
	}
	for y := r.Min.Y + 1; y < r.Max.Y; y++ {
		copy(img.Pix[img.PixOffset(r.Min.X, y):], row)
	}
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	fill(img, image.Rect(x0, y, x1+1, y+1), c)
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	fill(img, image.Rect(x, y0, x+1, y1+1), c)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// ticks returns round values from 0 to max, about five of them.
func ticks(max float64) []float64 {
	if max <= 0 {
		return []float64{0}
	}
	step := niceStep(max / 5)
	var out []float64
	for v := 0.0; v <= max+step*1e-9; v += step {
		out = append(out, v)
	}
	return out
}

// niceStep rounds x to the nearest of 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	switch f := x / p; {
	case f < 1.5:
		return p
	case f < 3:
		return 2 * p
	case f < 7:
		return 5 * p
	}
	return 10 * p
}

func label(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 10000:
		return strconv.FormatFloat(v/1000, 'f', -1, 64) + "K"
	case v >= 1:
		return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
	}
	return fmt.Sprintf("%.2g", v)
}
