"""CMS's own data files: `pprrvu` reads the quarterly PPRRVU (RVU) file by column name, and `rvu_import`
writes what it holds into a policy's dated fee data (`ctsdsl import rvu`).
"""
