"""Engine runners. Heavy engines (pyspark, pyflink) are imported lazily, only here."""
