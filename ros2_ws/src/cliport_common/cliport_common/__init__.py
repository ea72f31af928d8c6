"""cliport_common: code shared by every cliport package (it imports none of them)."""
