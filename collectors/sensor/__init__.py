"""The packet sensor: decodes headers itself and runs small detectors on live traffic or capture files.

Only DNS and the first bytes of cleartext protocols are looked into; everything else is header
fields read with ``struct``, which is what makes the sensor fast enough for a busy link.
"""
