package sluice.lib.quantity_test

import data.sluice.lib.quantity

test_milli_parses_kubernetes_quantities if {
	cases := {
		"0": 0,
		"1": 1000,
		"0.5": 500,
		".5": 500,
		"2.": 2000,
		"+3": 3000,
		"007": 7000,
		"500m": 500,
		"100m": 100,
		"0.1": 100,
		"1n": 0.000001,
		"1u": 0.001,
		"1k": 1000000,
		"1M": 1000000000,
		"1G": 1000000000000,
		"1T": 1000000000000000,
		"1P": 1000000000000000000,
		"1E": 1000000000000000000000,
		"1Ki": 1024000,
		"512Mi": 536870912000,
		"1.5Gi": 1610612736000,
		"2Gi": 2147483648000,
		"1Ti": 1099511627776000,
		"1Pi": 1125899906842624000,
		"1Ei": 1152921504606846976000,
		"1e3": 1000000,
		"1E3": 1000000,
		"5e-1": 500,
		"1e+2": 100000,
	}
	every q, want in cases {
		quantity.milli(q) == want
	}
}

test_milli_accepts_non_negative_numbers if {
	quantity.milli(2) == 2000
	quantity.milli(0.25) == 250
	not quantity.milli(-1)
}

test_milli_rejects_invalid_quantities if {
	every q in ["", "abc", "-1", "-1Gi", "1.2.3", "1mi", "1KiB", "1e", "1e1000", "e3", "1.5.Gi", "0x10", "1 Gi", " 1", "--1", "1e+-2", "Gi"] {
		not quantity.milli(q)
		not quantity.valid(q)
	}
}

test_milli_rejects_non_quantity_types if {
	not quantity.milli(true)
	not quantity.milli(null)
	not quantity.milli(["1"])
}

test_equal_quantities_in_different_units_compare_equal if {
	quantity.milli("0.1") == quantity.milli("100m")
	quantity.milli("1Gi") == quantity.milli("1024Mi")
	quantity.milli("1G") == quantity.milli("1000M")
	quantity.milli("536870912") == quantity.milli("512Mi")
	quantity.milli("1G") < quantity.milli("1Gi")
}

# Every power of ten a quantity can reach: 1e-3 is 1 milli-unit, 1e37 is 10^40 of them.
test_every_decimal_exponent_scales_exactly if {
	every k in numbers.range(-2, 37) {
		quantity.milli(concat("", ["1e", format_int(k, 10)])) == to_number(concat("", ["1", concat("", ["0" | some _ in numbers.range(1, k + 3)])]))
	}
	quantity.milli("1e-3") == 1
	quantity.milli("1e-6") == 0.001
}

# An exponent is one signed integer of one or two digits.
test_malformed_exponents_are_invalid if {
	every q in ["1e2e3", "1e1.", "1e001", "1e+x"] {
		not quantity.valid(q)
	}
}
