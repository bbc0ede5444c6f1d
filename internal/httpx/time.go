package httpx

import "time"

// TimeFormat is RFC 3339 with milliseconds, as every time in the API.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// fastTimeMax is the last millisecond of 9999-12-31 UTC: AppendTime formats
// times from the epoch to here itself, four-digit years all.
const fastTimeMax = 253402300799999

// AppendTime appends ms (unix milliseconds) in TimeFormat, in UTC: what
// time.UnixMilli(ms).UTC().AppendFormat(dst, TimeFormat) appends.
//
// Every SSE message frame carries one; the general formatter parses its
// layout each time and costs more than the rest of the frame.
func AppendTime(dst []byte, ms int64) []byte {
	if ms < 0 || ms > fastTimeMax {
		return time.UnixMilli(ms).UTC().AppendFormat(dst, TimeFormat)
	}
	const msPerDay = 24 * 60 * 60 * 1000
	days, rem := ms/msPerDay, ms%msPerDay
	y, m, d := civil(days)
	dst = append4(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	dst = append2(dst, d)
	dst = append(dst, 'T')
	dst = append2(dst, int(rem/3600000))
	dst = append(dst, ':')
	dst = append2(dst, int(rem/60000%60))
	dst = append(dst, ':')
	dst = append2(dst, int(rem/1000%60))
	dst = append(dst, '.')
	frac := int(rem % 1000)
	dst = append(dst, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return append(dst, 'Z')
}

// civil is the proleptic Gregorian date of days since 1970-01-01 (not
// negative), by Howard Hinnant's civil_from_days: eras of 400 years,
// counted from a March 1 so that the leap day ends each year.
func civil(days int64) (year, month, day int) {
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = int(doy - (153*mp+2)/5 + 1)
	month = int(mp + 3)
	if month > 12 {
		month -= 12
	}
	year = int(yoe + era*400)
	if month <= 2 {
		year++
	}
	return year, month, day
}

func append2(dst []byte, v int) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

func append4(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}
