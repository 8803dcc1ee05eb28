# Kubernetes resource quantities in pure Rego (no units.* built-ins, which the Wasm target
# does not implement natively).
#
# milli(q) is the value of quantity q in thousandths of its unit ("500m" -> 500, "0.5" -> 500,
# "1Ki" -> 1024000). q is a string such as "512Mi", "1G", "0.5", "500m", "1e3", or a
# non-negative number. The result is undefined when q is not a valid non-negative quantity.
# Values are computed from integers (mantissa * 2^b * 10^e), so "0.1" and "100m" compare equal.
package sluice.lib.quantity

import future.keywords.not

# Binary suffixes (2^n).
_binary := {
	"Ki": 1024,
	"Mi": 1048576,
	"Gi": 1073741824,
	"Ti": 1099511627776,
	"Pi": 1125899906842624,
	"Ei": 1152921504606846976,
}

# Decimal SI suffixes (10^n).
_decimal := {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

# 10^0 .. 10^40
_pow10 := [
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
	10000000000, 100000000000, 1000000000000, 10000000000000, 100000000000000,
	1000000000000000, 10000000000000000, 100000000000000000, 1000000000000000000,
	10000000000000000000, 100000000000000000000, 1000000000000000000000,
	10000000000000000000000, 100000000000000000000000, 1000000000000000000000000,
	10000000000000000000000000, 100000000000000000000000000, 1000000000000000000000000000,
	10000000000000000000000000000, 100000000000000000000000000000,
	1000000000000000000000000000000, 10000000000000000000000000000000,
	100000000000000000000000000000000, 1000000000000000000000000000000000,
	10000000000000000000000000000000000, 100000000000000000000000000000000000,
	1000000000000000000000000000000000000, 10000000000000000000000000000000000000,
	100000000000000000000000000000000000000, 1000000000000000000000000000000000000000,
	10000000000000000000000000000000000000000,
]

milli(q) := q * 1000 if {
	is_number(q)
	q >= 0
}

milli(q) := v if {
	is_string(q)
	[num, exp10, factor] := _suffix(q)
	[mantissa, frac_digits] := _number(num)
	v := _scale(mantissa * factor, (exp10 + 3) - frac_digits)
}

# valid(q) is true when q is a valid non-negative quantity.
valid(q) if milli(q)

# _suffix(s) = [number part, decimal exponent, binary factor]
_suffix(s) := [substring(s, 0, count(s) - 2), 0, _binary[suffix]] if {
	endswith(s, "i") # every binary suffix does: a cheap test first
	count(s) > 2
	suffix := substring(s, count(s) - 2, 2)
	_binary[suffix]
} else := [substring(s, 0, count(s) - 1), _decimal[suffix], 1] if {
	count(s) > 1
	suffix := substring(s, count(s) - 1, 1)
	_decimal[suffix]
} else := [parts[0], _exponent(parts[1]), 1] if {
	# decimal exponent: 1e3, 1E3, 5e-1
	parts := split(replace(s, "E", "e"), "e")
	count(parts) == 2
} else := [s, 0, 1]

# _exponent(s): a signed integer of at most two digits.
_exponent(s) := to_number(digits) * sign if {
	sign := _sign(s)
	digits := trim_left(s, "+-")
	_digits(digits)
	count(digits) <= 2
	count(s) - count(digits) <= 1
}

_sign(s) := -1 if startswith(s, "-")

_sign(s) := 1 if not startswith(s, "-")

# _number(s) = [integer mantissa, number of fraction digits] for "12", "1.5", ".5", "+3", "2."
# Plain digits ("512", the common case) take the short way; the result is the same.
_number(s) := [to_number(_strip_zeros(s)), 0] if {
	_digits(s)
} else := [to_number(_strip_zeros(concat("", [int_part, frac_part]))), count(frac_part)] if {
	unsigned := trim_prefix(s, "+")
	parts := split(unsigned, ".")
	count(parts) <= 2
	int_part := parts[0]
	frac_part := _second(parts)
	count(int_part) + count(frac_part) > 0
	_digits_or_empty(int_part)
	_digits_or_empty(frac_part)
}

_second(parts) := parts[1] if count(parts) == 2

else := ""

_strip_zeros(s) := t if {
	t := trim_left(s, "0")
	t != ""
} else := "0"

_digits(s) if {
	s != ""
	_digits_or_empty(s)
}

_digits_or_empty(s) if trim(s, "0123456789") == ""

_scale(n, e) := n * _pow10[e] if e >= 0

_scale(n, e) := n / _pow10[0 - e] if e < 0
