"""Coupa Core API simulator: OAuth, invoices, purchase orders, suppliers, faults and Call Outs."""
