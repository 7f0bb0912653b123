"""Generate the `format` dataset: Skerry Air technical-log entries -> one JSON record.

Skerry Air is a fictional regional airline. Its line engineers and crews write
technical-log (tech log) entries in aviation-maintenance shorthand; the task is
to turn one entry into a strict JSON record whose keys and values are fixed by
docs/schema.md.

Run from anywhere, stdlib only, fixed seed; the output is byte-identical on
every run:

    python corpora/format/make_examples.py

Writes examples.jsonl (training pairs) and questions.jsonl (held-out inputs
with reference JSON) next to this file. Entries are composed from many
independent parts (entry layout, aircraft, station, date/time style, position
wording, component nouns, symptom wording, rectification wording, sign-off,
case and shorthand), then near-duplicates are rejected.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

SEED = 20260311
N_EXAMPLES = 320
N_QUESTIONS = 60
SYSTEM = "Extract the tech log entry as JSON."
HERE = Path(__file__).resolve().parent

# --- the schema (kept in step with docs/schema.md; tests read SCHEMA from here) ---

FLEET = [
    "G-SKRA", "G-SKRB", "G-SKRC", "G-SKRD", "G-SKRE", "G-SKRF",
    "G-SKRG", "G-SKRH", "G-SKRJ", "G-SKRK", "G-SKRL", "G-SKRM",
]
STATIONS = ["ABZ", "INV", "KOI", "LSI", "SYY", "BEB", "WIC", "GLA", "EDI"]
POSITIONS = ["left", "right", "nose", "fwd", "aft", "na"]
DEFECTS = [
    "leak", "inoperative", "intermittent", "damaged", "worn", "low_level",
    "fault_message", "noise", "vibration", "corrosion", "missing",
]
ACTIONS = [
    "replaced", "repaired", "adjusted", "serviced", "cleaned", "reset",
    "no_fault_found", "deferred", "troubleshooting",
]
STATUSES = ["closed", "deferred", "open"]
MEL_CATS = ["A", "B", "C", "D", "none"]
KEYS = ["aircraft", "ata", "component", "position", "defect", "action", "status", "mel_cat", "aog"]

# Position wording. Engine #1 / propeller #1 / anything "1" on the aircraft is left.
POS_WORDS = {
    "engine": {
        "left": ["#1 ENG", "NO.1 ENG", "ENG 1", "L/H ENG", "LH ENG", "ENG #1", "NO 1 ENG"],
        "right": ["#2 ENG", "NO.2 ENG", "ENG 2", "R/H ENG", "RH ENG", "ENG #2", "NO 2 ENG"],
    },
    "prop": {
        "left": ["#1 PROP", "NO.1 PROP", "L/H PROP", "PROP 1", "LH PROP"],
        "right": ["#2 PROP", "NO.2 PROP", "R/H PROP", "PROP 2", "RH PROP"],
    },
    "side": {
        "left": ["L/H", "LH", "LEFT", "#1", "NO.1"],
        "right": ["R/H", "RH", "RIGHT", "#2", "NO.2"],
        "nose": ["NOSE", "NLG"],
        "aft": ["TAIL", "AFT"],
    },
    "radio": {
        "left": ["VHF 1", "VHF1", "COM 1", "VHF #1"],
        "right": ["VHF 2", "VHF2", "COM 2", "VHF #2"],
    },
    "cockpit": {
        "left": ["CAPT", "CAPT SIDE", "L/H", "LH", "P1"],
        "right": ["F/O", "F/O SIDE", "R/H", "RH", "P2"],
    },
    "gear": {
        "left": ["L/H MLG", "LH MLG", "L/H MAIN", "LEFT MAIN GEAR", "LH MAIN GEAR"],
        "right": ["R/H MLG", "RH MLG", "R/H MAIN", "RIGHT MAIN GEAR", "RH MAIN GEAR"],
        "nose": ["NLG", "NOSE GEAR", "N/G", "NOSE"],
    },
    "cabin": {
        "fwd": ["FWD", "FORWARD", "FWD CABIN"],
        "aft": ["AFT", "REAR", "AFT CABIN"],
    },
    "none": {"na": [""]},
}

# Component table: ata, position kind, allowed positions, nouns, replaceable parts,
# symptom wording per defect, allowed rectifications, MEL item/cat (None = no relief).
COMPONENTS = [
    dict(name="engine_oil", ata="79", kind="engine", pos=["left", "right"],
         nouns=["OIL QTY", "ENG OIL", "OIL LEVEL", "OIL CONTENTS"],
         parts=["OIL FILTER", "SCAVENGE PUMP SEAL", "OIL PRESS XMTR"],
         defects={
             "low_level": ["{pos} {noun} LOW ON WALKROUND", "{pos} {noun} BELOW MIN ON DAILY CHECK",
                           "{pos} {noun} READ {n} QTS AT TRANSIT, BELOW MIN", "LOW {noun} {pos} NOTED PRE-FLT"],
             "leak": ["{pos} OIL SEEP FROM ACCESSORY GEARBOX AREA", "OIL STAINING ON {pos} LOWER COWL",
                      "{pos} OIL DRIPPING FROM NACELLE DRAIN MAST, {n} DROPS/MIN"],
             "fault_message": ["{pos} OIL PRESS CAUTION ON TAXI IN", "ENG OIL LO PR ALERT {pos} DURING START"],
         },
         actions=["serviced", "replaced", "repaired", "no_fault_found", "troubleshooting"],
         mel=None),
    dict(name="engine_starter", ata="80", kind="engine", pos=["left", "right"],
         nouns=["STARTER", "STARTER GEN", "S/G"],
         parts=["STARTER GEN", "START CONTACTOR", "GCU"],
         defects={
             "inoperative": ["{pos} {noun} FAILED TO ENGAGE ON START", "NO LIGHT-UP {pos}, {noun} NOT ROTATING"],
             "intermittent": ["{pos} SLOW START, {noun} DROPOUT AT {n}% NH", "{pos} HUNG START X2, SUSPECT {noun}"],
             "fault_message": ["{pos} DC GEN CAUTION AFTER START", "{pos} {noun} FAULT MSG ON MFD"],
         },
         actions=["replaced", "reset", "no_fault_found", "troubleshooting"],
         mel=None),
    dict(name="engine_cowling", ata="71", kind="engine", pos=["left", "right"],
         nouns=["COWL", "COWLING", "COWL LATCH", "LOWER COWL"],
         parts=["COWL LATCH", "LATCH PIN", "COWL HINGE"],
         fix={"repaired": ["CRACK STOP-DRILLED AND REPAIRED IAW SRM {srm}", "FASTENERS REFITTED, COWL REPAIRED IAW SRM {srm}"]},
         defects={
             "damaged": ["{pos} {noun} DENTED, BIRDSTRIKE SUSPECTED", "{pos} {noun} CRACKED AT FWD EDGE"],
             "missing": ["{pos} {noun} FASTENER MISSING ON WALKROUND", "{pos} {noun} SCREW X{n} MISSING"],
             "worn": ["{pos} {noun} WORN, NOT LOCKING POSITIVELY"],
         },
         actions=["replaced", "repaired", "adjusted", "troubleshooting"],
         mel=None),
    dict(name="propeller", ata="61", kind="prop", pos=["left", "right"],
         nouns=["BLADE", "PROP BLADE", "DE-ICE BOOT", "SPINNER"],
         parts=["BLADE", "SPINNER", "PCU"],
         fix={"repaired": ["BLADE DRESSED IAW CMM 61-10-{n}", "EROSION BLENDED WITHIN CMM LIMITS, DYNAMIC BALANCE C/O",
                           "DYNAMIC BALANCE CARRIED OUT IAW AMM {amm}"]},
         defects={
             "vibration": ["{pos} VIB FELT IN CRZ AT {n} NP", "{pos} HIGH VIB READOUT IN CLB, CREW REPORT"],
             "damaged": ["{pos} {noun} LEADING EDGE EROSION BEYOND LIMITS", "STONE DAMAGE ON {pos} {noun}"],
             "fault_message": ["{pos} PEC FAULT ON APPROACH", "{pos} OVERSPEED WARNING ON T/O ROLL"],
         },
         actions=["repaired", "replaced", "adjusted", "no_fault_found", "troubleshooting"],
         mel=None),
    dict(name="air_cond_pack", ata="21", kind="side", pos=["left", "right"],
         nouns=["PACK", "AIR COND PACK", "A/C PACK", "ECS PACK"],
         parts=["PACK VALVE", "TEMP SENSOR", "ACM", "PACK CONTROLLER"],
         defects={
             "inoperative": ["{pos} {noun} WOULD NOT COME ON LINE", "{pos} {noun} INOP IN CRZ"],
             "fault_message": ["{pos} {noun} FAULT CAUTION IN CLB", "{pos} {noun} OVHT ALERT ON GND"],
             "noise": ["LOUD WHINE FROM {pos} {noun} BAY", "{pos} {noun} RATTLE AUDIBLE IN CABIN"],
         },
         actions=["replaced", "reset", "cleaned", "no_fault_found", "deferred"],
         mel=("21-51-01", "C")),
    dict(name="dc_generator", ata="24", kind="engine", pos=["left", "right"],
         nouns=["DC GEN", "GEN", "GCU"],
         parts=["GCU", "DC GEN", "GEN CONTACTOR"],
         defects={
             "inoperative": ["{pos} {noun} OFF LINE, WOULD NOT RESET", "{pos} {noun} DROPPED OFF LINE IN CRZ"],
             "fault_message": ["{pos} DC GEN CAUTION IN CLB", "{pos} {noun} FAULT LT ILLUMINATED"],
             "intermittent": ["{pos} {noun} INTERMITTENT OFF LINE X{n} DURING SECTOR"],
         },
         actions=["replaced", "reset", "cleaned", "no_fault_found", "deferred"],
         mel=("24-31-01", "B")),
    dict(name="main_battery", ata="24", kind="none", pos=["na"],
         nouns=["MAIN BATT", "MAIN BATTERY", "BATT"],
         parts=["MAIN BATT", "BATT TEMP SENSOR"],
         defects={
             "low_level": ["{noun} VOLTAGE {n}V ON POWER-UP", "{noun} FLAT AFTER NIGHTSTOP"],
             "fault_message": ["{noun} HOT CAUTION ON GROUND", "{noun} FAULT ON OVERHEAD PANEL"],
             "corrosion": ["CORROSION ON {noun} TERMINALS", "{noun} CONNECTOR CORRODED"],
         },
         actions=["replaced", "cleaned", "serviced", "troubleshooting"],
         mel=None),
    dict(name="passenger_seat", ata="25", kind="none", pos=["na"],
         nouns=["PAX SEAT {seat}", "SEAT {seat}", "SEAT ROW {row}"],
         parts={"inoperative": ["RECLINE ACTUATOR", "RECLINE LOCK"], "damaged": ["TRAY TABLE", "SEAT CUSHION"],
                "missing": ["LIFE VEST", "SEAT BELT"]},
         defects={
             "inoperative": ["{noun} RECLINE INOP", "{noun} WILL NOT LOCK UPRIGHT"],
             "damaged": ["{noun} TRAY TABLE BROKEN", "{noun} CUSHION TORN"],
             "missing": ["{noun} LIFE VEST MISSING", "{noun} SEAT BELT BUCKLE MISSING"],
         },
         actions=["replaced", "repaired", "adjusted", "deferred"],
         mel=("25-21-01", "D")),
    dict(name="galley_equipment", ata="25", kind="cabin", pos=["fwd", "aft"],
         nouns=["GALLEY OVEN", "BOILER", "HOT JUG", "GALLEY CART LATCH"],
         parts=["OVEN", "BOILER", "CART STOP"],
         defects={
             "inoperative": ["{pos} {noun} INOP, NO HEAT", "{pos} {noun} DEAD, CB IN"],
             "leak": ["{pos} {noun} LEAKING ONTO GALLEY FLOOR", "WATER LEAK UNDER {pos} {noun}"],
             "damaged": ["{pos} {noun} DOOR HINGE BROKEN", "{pos} {noun} LATCH BENT"],
         },
         actions=["replaced", "repaired", "reset", "deferred"],
         mel=("25-30-01", "D")),
    dict(name="lavatory", ata="38", kind="cabin", pos=["aft", "fwd"],
         nouns=["TOILET", "LAV", "LAV FLUSH", "WASH BASIN"],
         parts=["FLUSH MOTOR", "FLUSH VALVE", "DRAIN VALVE"],
         defects={
             "inoperative": ["{pos} {noun} INOP", "{pos} {noun} NOT FLUSHING"],
             "leak": ["{pos} {noun} LEAKING AT BASE", "BLUE WATER LEAK FROM {pos} {noun}"],
             "noise": ["{pos} {noun} MOTOR RUNNING CONTINUOUSLY"],
         },
         actions=["replaced", "repaired", "cleaned", "deferred"],
         mel=("38-31-01", "C")),
    dict(name="potable_water", ata="38", kind="none", pos=["na"],
         nouns=["POTABLE WATER", "WATER QTY", "POT WATER IND"],
         parts=["WATER QTY XMTR", "FILL VALVE"],
         defects={
             "low_level": ["{noun} SHOWING EMPTY AFTER SERVICING", "{noun} 1/4 ONLY AT DEPARTURE"],
             "leak": ["{noun} LEAK UNDER AFT FLOOR PANEL", "{noun} DRAIN MAST DRIPPING"],
         },
         actions=["serviced", "replaced", "repaired", "deferred"],
         mel=("38-11-01", "C")),
    dict(name="fire_detection", ata="26", kind="engine", pos=["left", "right"],
         nouns=["FIRE LOOP", "FIRE DET", "FIRE DETECTION LOOP"],
         parts=["FIRE LOOP", "FIRE DET CONTROL UNIT"],
         defects={
             "fault_message": ["{pos} {noun} FAULT ON FIRE TEST", "{pos} LOOP A FAULT DURING PRE-FLT TEST"],
             "intermittent": ["{pos} SPURIOUS FIRE WARNING {n}S IN CRZ, CLEARED"],
         },
         actions=["replaced", "cleaned", "no_fault_found", "deferred", "troubleshooting"],
         mel=("26-11-01", "A")),
    dict(name="flap_system", ata="27", kind="none", pos=["na"],
         nouns=["FLAPS", "FLAP SYS", "FLAP ACTUATOR"],
         parts=["FLAP ACTUATOR", "FLAP POSN XMTR", "FLAP CONTROL UNIT"],
         defects={
             "fault_message": ["FLAP ASYM CAUTION ON APPROACH", "FLAP UNLK ALERT DURING RETRACTION"],
             "inoperative": ["{noun} WOULD NOT EXTEND BEYOND 15", "{noun} STUCK AT 0 ON GND TEST"],
             "noise": ["GRINDING NOISE FROM {noun} ON EXTENSION"],
         },
         actions=["replaced", "adjusted", "no_fault_found", "troubleshooting"],
         mel=None),
    dict(name="elevator_trim", ata="27", kind="none", pos=["na"],
         nouns=["PITCH TRIM", "ELEV TRIM", "STBY PITCH TRIM"],
         parts=["TRIM ACTUATOR", "TRIM SWITCH", "TRIM TAB ROD END"],
         defects={
             "intermittent": ["{noun} RUNS SLOWLY, INTERMITTENT IN CRZ", "{noun} SW STICKS INTERMITTENTLY"],
             "worn": ["TRIM TAB FREEPLAY OUT OF LIMITS ON INSPECTION", "{noun} ROD END WORN"],
         },
         actions=["replaced", "adjusted", "no_fault_found", "troubleshooting"],
         mel=None),
    dict(name="fuel_quantity", ata="28", kind="side", pos=["left", "right"],
         nouns=["FUEL QTY", "FQI", "FUEL QTY IND", "TANK GAUGE"],
         parts=["FUEL PROBE", "FQI", "FQ COMPUTER"],
         defects={
             "fault_message": ["{pos} {noun} FLAGGED IN CRZ", "{pos} {noun} DASHES ON MFD"],
             "intermittent": ["{pos} {noun} FLUCTUATING +/- {n}KG", "{pos} {noun} DISAGREES WITH DIPSTICK BY {n}KG"],
         },
         actions=["replaced", "cleaned", "no_fault_found", "deferred"],
         mel=("28-41-01", "C")),
    dict(name="fuel_filter", ata="73", kind="engine", pos=["left", "right"],
         nouns=["FUEL FILTER", "FUEL FLTR", "LP FUEL FILTER"],
         parts=["FUEL FILTER ELEMENT", "DIFF PRESS SW"],
         defects={
             "fault_message": ["{pos} {noun} BYPASS CAUTION ON TAXI", "{pos} FUEL CLOG ALERT IN DESC"],
             "contamination": [],
         },
         actions=["replaced", "cleaned", "no_fault_found", "troubleshooting"],
         mel=None),
    dict(name="hydraulic_pump", ata="29", kind="side", pos=["left", "right"],
         nouns=["HYD PUMP", "EDP", "HYD SYS", "ACW HYD PUMP"],
         parts=["HYD PUMP", "PRESS SW", "CASE DRAIN FILTER"],
         defects={
             "leak": ["{pos} {noun} WEEPING FROM CASE DRAIN", "HYD FLUID ON {pos} NACELLE FLOOR, {noun} AREA"],
             "low_level": ["{pos} HYD RESERVOIR LOW ON DAILY", "{pos} HYD QTY BELOW REFILL MARK"],
             "fault_message": ["{pos} HYD LO PR CAUTION ON TAXI OUT", "{pos} {noun} OVHT CAUTION"],
         },
         actions=["serviced", "replaced", "repaired", "troubleshooting"],
         mel=None),
    dict(name="windshield_heat", ata="30", kind="cockpit", pos=["left", "right"],
         nouns=["WSHLD HEAT", "WINDSHIELD HEAT", "W/S HT"],
         parts=["WSHLD HEAT CONTROLLER", "TEMP SENSOR", "HEAT RELAY"],
         defects={
             "inoperative": ["{pos} {noun} INOP, NO WARM-UP", "{pos} {noun} FAIL LT ON"],
             "fault_message": ["{pos} {noun} FAULT CAUTION IN DESC", "{pos} {noun} OVHT ALERT"],
         },
         actions=["replaced", "reset", "no_fault_found", "deferred"],
         mel=("30-41-01", "C")),
    dict(name="windshield", ata="56", kind="cockpit", pos=["left", "right"],
         nouns=["WINDSHIELD", "WSHLD", "SIDE WINDOW", "SLIDING WINDOW"],
         parts={"damaged": ["WINDSHIELD", "WINDOW ASSY"], "worn": ["WINDSHIELD", "WINDOW SEAL"],
                "noise": ["WINDOW SEAL"]},
         fix={"repaired": ["CHIP BLENDED IAW SRM {srm}", "SEAL RESEALED IAW AMM {amm}"]},
         defects={
             "damaged": ["{pos} {noun} OUTER PLY CRACKED", "{pos} {noun} CHIPPED, STONE STRIKE"],
             "worn": ["{pos} {noun} DELAMINATION AT LOWER CORNER", "{pos} {noun} SEAL PERISHED"],
             "noise": ["EXCESSIVE WIND NOISE FROM {pos} {noun} IN CRZ"],
         },
         actions=["replaced", "repaired", "deferred", "troubleshooting"],
         mel=("56-10-01", "C")),
    dict(name="deice_boot", ata="30", kind="side", pos=["left", "right"],
         nouns=["WING DE-ICE BOOT", "DE-ICE BOOT", "LE BOOT", "AIRFRAME DE-ICE"],
         parts=["DE-ICE BOOT", "DISTRIBUTION VALVE", "TIMER"],
         fix={"repaired": ["BOOT PATCHED IAW CMM 30-11-{n}", "BOOT SEALANT REAPPLIED IAW AMM {amm}", "PATCH REBONDED IAW SRM {srm}"]},
         defects={
             "damaged": ["{pos} {noun} TORN NEAR TIP", "{pos} {noun} PATCH LIFTING"],
             "inoperative": ["{pos} {noun} NOT INFLATING ON TEST", "{pos} {noun} CYCLE FAIL"],
         },
         actions=["repaired", "replaced", "deferred", "troubleshooting"],
         mel=("30-11-01", "B")),
    dict(name="brake", ata="32", kind="gear", pos=["left", "right"],
         nouns=["BRAKE", "BRAKE UNIT", "BRAKE ASSY"],
         parts=["BRAKE ASSY", "BRAKE UNIT"],
         defects={
             "worn": ["{pos} {noun} WEAR PIN FLUSH", "{pos} {noun} WORN TO LIMITS ON DAILY"],
             "fault_message": ["{pos} BRAKE TEMP HI ON TAXI IN", "ANTISKID FAULT {pos} ON LANDING ROLL"],
             "noise": ["{pos} {noun} SQUEALING ON TAXI"],
         },
         actions=["replaced", "adjusted", "no_fault_found", "troubleshooting"],
         mel=None),
    dict(name="tyre", ata="32", kind="gear", pos=["left", "right", "nose"],
         nouns=["TYRE", "TIRE", "WHEEL", "O/B TYRE", "I/B TYRE"],
         parts=["WHEEL ASSY", "TYRE"],
         defects={
             "worn": ["{pos} {noun} WORN TO LIMITS", "{pos} {noun} TREAD AT RED LINE"],
             "damaged": ["{pos} {noun} CUT {n}MM DEEP ON SIDEWALL", "FLAT SPOT ON {pos} {noun}"],
             "low_level": ["{pos} {noun} PRESS LOW, {n} PSI BELOW NOM"],
         },
         actions=["replaced", "serviced", "troubleshooting"],
         mel=None),
    dict(name="nose_wheel_steering", ata="32", kind="gear", pos=["nose"],
         nouns=["NWS", "NOSE WHEEL STEERING", "STEERING"],
         parts=["STEERING ACTUATOR", "NWS SELECTOR VALVE", "STEERING CONTROL BOX"],
         defects={
             "fault_message": ["{noun} FAULT CAUTION ON TAXI OUT", "{noun} CAUTION AFTER PUSHBACK"],
             "vibration": ["SHIMMY FELT FROM {pos} ON T/O ROLL", "{pos} SHIMMY ON LANDING AT {kt}KT"],
             "inoperative": ["{noun} INOP, A/C TOWED TO STAND"],
         },
         actions=["replaced", "adjusted", "reset", "no_fault_found", "troubleshooting"],
         mel=None),
    dict(name="landing_light", ata="33", kind="side", pos=["left", "right", "nose"],
         nouns=["LDG LT", "LANDING LIGHT", "TAXI LT", "LDG LIGHT"],
         parts=["LAMP", "LIGHT ASSY", "LENS"],
         defects={
             "inoperative": ["{pos} {noun} INOP", "{pos} {noun} U/S ON WALKROUND"],
             "damaged": ["{pos} {noun} LENS CRACKED", "{pos} {noun} COVER BROKEN"],
         },
         actions=["replaced", "repaired", "deferred"],
         mel=("33-42-01", "C")),
    dict(name="exterior_light", ata="33", kind="side", pos=["left", "right", "aft"],
         nouns=["NAV LT", "STROBE", "BEACON", "LOGO LT"],
         parts=["LAMP", "POWER SUPPLY", "LENS"],
         defects={
             "inoperative": ["{pos} {noun} INOP ON WALKROUND", "{pos} {noun} NOT ILLUMINATING"],
             "intermittent": ["{pos} {noun} FLICKERING"],
         },
         actions=["replaced", "cleaned", "deferred"],
         mel=("33-43-01", "B")),
    dict(name="cabin_lighting", ata="33", kind="cabin", pos=["fwd", "aft"],
         nouns=["CABIN LTS", "READING LT", "SIDEWALL LTG", "EXIT SIGN"],
         parts=["LED STRIP", "BALLAST", "LAMP"],
         defects={
             "inoperative": ["{pos} {noun} INOP ROWS {row}-{row2}", "{noun} OUT IN {pos} ZONE AT ROW {row}"],
             "intermittent": ["{pos} {noun} FLICKERING", "{pos} {noun} FLASHES ON/OFF"],
         },
         actions=["replaced", "cleaned", "reset", "deferred"],
         mel=("33-24-01", "D")),
    dict(name="weather_radar", ata="34", kind="none", pos=["na"],
         nouns=["WX RADAR", "WXR", "WEATHER RADAR"],
         parts=["RADAR R/T UNIT", "RADAR CONTROL PANEL", "ANTENNA DRIVE"],
         defects={
             "inoperative": ["{noun} NO RETURNS IN CRZ", "{noun} BLANK DISPLAY"],
             "fault_message": ["{noun} FAULT MSG ON ND", "{noun} FAIL FLAG"],
             "intermittent": ["{noun} IMAGE DROPS OUT INTERMITTENTLY"],
         },
         actions=["replaced", "reset", "no_fault_found", "deferred"],
         mel=("34-41-01", "C")),
    dict(name="air_data", ata="34", kind="side", pos=["left", "right"],
         nouns=["ADC", "ADU", "AIR DATA", "PITOT HEAT"],
         parts=["ADC", "PITOT PROBE", "STATIC PORT HEATER"],
         defects={
             "fault_message": ["{pos} {noun} FAIL FLAG ON PFD", "{pos} {noun} CAUTION IN CLB"],
             "intermittent": ["{pos} IAS DISAGREE {d}KT ON T/O ROLL", "{pos} ALT FLUCTUATING IN CRZ"],
         },
         actions=["replaced", "cleaned", "no_fault_found", "deferred", "troubleshooting"],
         mel=("34-11-01", "A")),
    dict(name="vhf_radio", ata="23", kind="radio", pos=["left", "right"],
         nouns=["", "RADIO", "TRANSCEIVER"],
         parts=["VHF TRANSCEIVER", "ANTENNA", "AUDIO CONTROL PANEL"],
         defects={
             "intermittent": ["{pos} BROKEN TX REPORTED BY ATC", "{pos} {noun} STATIC ON RX", "{pos} RX WEAK AND READABILITY 2"],
             "inoperative": ["{pos} {noun} NO TX", "{pos} {noun} DEAD ON POWER UP", "NIL RX ON {pos}"],
         },
         actions=["replaced", "cleaned", "no_fault_found", "deferred"],
         mel=("23-11-01", "C")),
    dict(name="pa_system", ata="23", kind="none", pos=["na"],
         nouns=["PA", "PA SYS", "CABIN PA", "INTERPHONE"],
         parts=["PA AMPLIFIER", "HANDSET", "SPEAKER"],
         defects={
             "inoperative": ["{noun} INOP FROM FWD HANDSET", "{noun} NOT AUDIBLE IN AFT CABIN"],
             "noise": ["{noun} LOUD FEEDBACK HUM", "{noun} CRACKLING"],
         },
         actions=["replaced", "repaired", "no_fault_found", "deferred"],
         mel=("23-31-01", "A")),
    dict(name="crew_oxygen", ata="35", kind="none", pos=["na"],
         nouns=["CREW O2", "CREW OXY", "O2 BOTTLE"],
         parts=["O2 BOTTLE", "MASK", "PRESS REGULATOR"],
         defects={
             "low_level": ["{noun} PRESS {n} PSI ON PRE-FLT, BELOW MIN", "{noun} BELOW DISPATCH PRESS"],
             "leak": ["{noun} PRESS DROPPED {n} PSI OVERNIGHT"],
         },
         actions=["serviced", "replaced", "troubleshooting"],
         mel=None),
    dict(name="bleed_valve", ata="36", kind="engine", pos=["left", "right"],
         nouns=["BLEED", "HP VALVE", "BLEED VALVE", "BLEED LEAK"],
         parts=["HP VALVE", "BLEED VALVE", "DUCT CLAMP"],
         defects={
             "fault_message": ["{pos} {noun} FAULT CAUTION IN CLB", "{pos} BLEED LEAK CAUTION ON T/O"],
             "leak": ["{pos} BLEED DUCT CLAMP LEAKING, SOOT MARKS"],
         },
         actions=["replaced", "adjusted", "no_fault_found", "deferred", "troubleshooting"],
         mel=("36-11-01", "C")),
    dict(name="passenger_door", ata="52", kind="cabin", pos=["fwd", "aft"],
         nouns=["PAX DOOR", "MAIN DOOR", "CARGO DOOR", "SERVICE DOOR"],
         parts={"fault_message": ["DOOR PROX SENSOR", "HANDLE MECHANISM", "DOOR WARNING SW"],
                "damaged": ["DOOR SEAL", "SKIN PANEL"], "noise": ["DOOR SEAL"]},
         defects={
             "fault_message": ["{pos} {noun} UNLK CAUTION IN CLB", "{pos} {noun} CAUTION AFTER CLOSING"],
             "damaged": ["{pos} {noun} SEAL TORN", "{pos} {noun} DENT ON LOWER SKIN"],
             "noise": ["WHISTLING FROM {pos} {noun} SEAL IN CRZ"],
         },
         actions=["replaced", "adjusted", "repaired", "troubleshooting"],
         mel=None),
    dict(name="apu", ata="49", kind="none", pos=["na"],
         nouns=["APU", "AUX POWER UNIT"],
         parts=["APU IGNITER", "APU ECU", "APU FUEL VALVE"],
         defects={
             "inoperative": ["{noun} WILL NOT START", "{noun} AUTO S/D ON START"],
             "fault_message": ["{noun} FAULT MSG AFTER S/D", "{noun} OIL LO PR FAULT"],
         },
         actions=["replaced", "reset", "no_fault_found", "deferred"],
         mel=("49-11-01", "C")),
    dict(name="fuselage_skin", ata="53", kind="cabin", pos=["fwd", "aft"],
         nouns=["FUSELAGE SKIN", "BELLY SKIN", "SKIN PANEL", "LOWER FUSELAGE"],
         parts=["SKIN PANEL", "DOUBLER"],
         fix={"repaired": ["DAMAGE ASSESSED AND REPAIRED IAW SRM {srm}", "BLENDED OUT, PROTECTIVE TREATMENT APPLIED IAW SRM {srm}",
                           "DOUBLER REPAIR FITTED IAW SRM {srm}, DUPLICATE INSP C/O"]},
         defects={
             "damaged": ["DENT IN {pos} {noun} {n}MM DIA", "{pos} {noun} SCRATCHED BY GSE"],
             "corrosion": ["{pos} {noun} CORROSION UNDER GALLEY AREA", "SURFACE CORROSION ON {pos} {noun}"],
         },
         actions=["repaired", "troubleshooting"],
         mel=None),
]
# fuel filter has no written contamination symptom set; fill it here to keep the table compact
COMPONENTS[[c["name"] for c in COMPONENTS].index("fuel_filter")]["defects"]["contamination"] = [
    "{pos} {noun} DEBRIS FOUND AT INSPECTION", "WATER IN {pos} {noun} BOWL ON DRAIN CHECK",
]
DEFECTS.append("contamination")

COMPONENT_NAMES = [c["name"] for c in COMPONENTS]
ATA_CHAPTERS = sorted({c["ata"] for c in COMPONENTS})

SCHEMA = {
    "aircraft": FLEET,
    "ata": ATA_CHAPTERS,
    "component": COMPONENT_NAMES,
    "position": POSITIONS,
    "defect": DEFECTS,
    "action": ACTIONS,
    "status": STATUSES,
    "mel_cat": MEL_CATS,
    "aog": [True, False],
}

# --- rectification wording -------------------------------------------------

CLOSE_TAIL = ["OPS CK SATIS", "OPS CHECK SAT", "FUNCTION TEST GOOD", "SYS TESTED SERVICEABLE", "TESTED OK"]
STRUCTURE_TAIL = ["INSPECTED SATIS", "DUPLICATE INSP C/O", "WITHIN SRM LIMITS"]
STRUCTURE_ATA = {"53", "56", "61", "71"}
# which closing actions make sense for which defect
ACTION_FITS = {
    "replaced": set(DEFECTS) | {"contamination"},
    "repaired": {"leak", "damaged", "worn", "corrosion", "inoperative", "intermittent", "noise", "vibration"},
    "adjusted": {"noise", "vibration", "intermittent", "fault_message", "inoperative"},
    "serviced": {"low_level"},
    "cleaned": {"fault_message", "intermittent", "contamination", "corrosion", "inoperative"},
    "reset": {"fault_message", "inoperative", "intermittent"},
    "no_fault_found": {"fault_message", "intermittent", "noise", "vibration", "inoperative"},
}
ACTION_TEXT = {
    "replaced": ["{part} REPLACED IAW AMM {amm}", "R/R {part} IAW AMM {amm}",
                 "FITTED NEW {part} P/N {pn} S/N {sn}", "{part} CHANGED, REF AMM {amm}",
                 "REPLCD {part} (EX-STORES) IAW AMM {amm}", "{part} REPLACED"],
    "repaired": ["{part} REPAIRED IAW CMM", "DEFECT RECTIFIED IAW AMM {amm}",
                 "REPAIR CARRIED OUT IAW AMM {amm}", "{part} REPAIRED IN SITU"],
    "adjusted": ["RIGGING ADJUSTED IAW AMM {amm}", "{part} ADJUSTED WITHIN LIMITS",
                 "ADJ CARRIED OUT IAW AMM {amm}", "CLEARANCES RESET TO AMM {amm} LIMITS"],
    "serviced": ["REPLENISHED {qty} IAW AMM {svc}", "SERVICED IAW AMM {svc}",
                 "TOPPED UP {qty}, REF AMM {svc}", "REPLEN {qty} AND CHECKED FOR LEAKS"],
    "cleaned": ["CONNECTOR CLEANED AND RESECURED", "{part} CLEANED, CONTACT CLEANER APPLIED",
                "CLEANED AND INSPECTED IAW AMM {amm}", "CANNON PLUG DEMATED, CLEANED, REMATED"],
    "reset": ["CB RESET", "SYSTEM RESET IAW TSM {amm}", "CONTROLLER RESET, NO FAULT RECURRED",
              "POWER CYCLED IAW TSM {amm}", "C/B {cb} CYCLED"],
    "no_fault_found": ["FAULT COULD NOT BE REPRODUCED ON GND. NFF",
                       "BITE INTERROGATED, NO FAULTS STORED. NFF, MONITOR",
                       "GRD RUN CARRIED OUT, NO DEFECT FOUND", "T/S IAW TSM {amm}, NIL FAULT FOUND",
                       "UNABLE TO DUPLICATE. NFF"],
}
DEFER_TEXT = ["DEFERRED IAW MEL {mel} CAT {cat}", "ADD RAISED IAW MEL {mel} CAT {cat}",
              "MEL {mel} CAT {cat} APPLIED, INOP PLACARD FITTED",
              "DEFECT DEFERRED UNDER MEL {mel} (CAT {cat}). (O)(M) PROCS COMPLETE",
              "PLACARDED INOP. DEFERRED MEL ITEM {mel} CAT {cat}", "ADD {add} RAISED, MEL {mel} CAT {cat}"]
AOG_TEXT = ["T/S IN PROGRESS, A/C AOG", "A/C U/S AWAITING {part}, ETA {eta}Z",
            "NO-GO ITEM. A/C GROUNDED PENDING SPARES", "A/C AOG. {part} ON ORDER EX-{hub}",
            "FURTHER T/S REQD, A/C NOT FIT FOR FLT", "T/S CONT. AOG, MCC INFORMED",
            "A/C DECLARED U/S, AWAITING ENG ADVICE"]
OPEN_TEXT = ["RAISED TO MCC FOR ADVICE, NO OPS IMPACT", "INSPECTED, WITHIN LIMITS FOR NOW. T/S TO CONT NEXT N/S",
             "REPORTED TO PLANNING, WORK PACK TO FOLLOW. NO DISPATCH IMPACT",
             "ASSESSED WITHIN AMM LIMITS, RE-INSPECT NEXT DAILY"]
OPEN_OK_COMPONENTS = {"fuselage_skin", "engine_cowling", "windshield", "propeller", "brake", "tyre"}
SIGNOFF = ["CRS ISSUED", "CRS", "CRS SIGNED", "LIC {lic} B1", "AUTH {auth}", "SIGNED {auth}", "",
           "", "", "CRS ISSUED, LIC {lic}", "REL TO SVC"]
QTY = {"engine_oil": ["{n} QTS", "{n} US QTS MJ2", "{n} QT"], "hydraulic_pump": ["{n} L HYD FLUID", "{n} QTS HYD FLUID"],
       "potable_water": ["WATER TANK", "{n}0 L"], "crew_oxygen": ["O2 TO 1800 PSI", "O2 TO 1850 PSI"],
       "main_battery": ["BATT CHARGE", "BATT (SHOP CHARGED)"], "tyre": ["N2 TO {n}5 PSI", "TYRE PRESS"]}
HUBS = ["GLA", "ABZ", "EDI"]
OPENERS = ["", "", "", "PIREP: ", "CREW RPT: ", "DEFECT: ", "TLB {tlb} ITEM {item}: ", "MX: ",
           "DAILY CHK: ", "W/A: ", "NIGHTSTOP: ", "TRANSIT CHK: "]


def amm(ata: str, rng: random.Random) -> str:
    return f"{ata}-{rng.randint(10, 61):02d}-{rng.choice(['00', '11', '21', '41', '51'])}"


def fill(template: str, ctx: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ctx[m.group(1)]), template)


def pick_outcome(comp: dict, defect: str, rng: random.Random) -> tuple[str, str, str, bool] | None:
    """Return (action, status, mel_cat, aog), or None when nothing fits this defect."""
    roll = rng.random()
    if comp["mel"] and "deferred" in comp["actions"] and roll < 0.25:
        return "deferred", "deferred", comp["mel"][1], False
    if "troubleshooting" in comp["actions"] and roll < 0.4:
        if comp["name"] in OPEN_OK_COMPONENTS and rng.random() < 0.45:
            return "troubleshooting", "open", "none", False
        return "troubleshooting", "open", "none", True
    closing = [a for a in comp["actions"] if a in ACTION_FITS and defect in ACTION_FITS[a]]
    if not closing:
        return None
    return rng.choice(closing), "closed", "none", False


def tail(comp: dict, defect: str, rng: random.Random) -> str:
    if comp["ata"] in STRUCTURE_ATA and defect in ("damaged", "worn", "corrosion", "missing"):
        return rng.choice(STRUCTURE_TAIL)
    options = list(CLOSE_TAIL)
    if defect in ("leak", "low_level"):
        options += ["LEAK CK SATIS", "LEAK CHECK NIL"]
    if comp["kind"] in ("engine", "prop"):
        options += ["GRD RUN SATIS", "ENG GRD RUN OK"]
    if comp["ata"] in ("23", "34", "24", "26"):
        options += ["BITE TEST PASSED"]
    return rng.choice(options)


def shorthand(text: str, rng: random.Random) -> str:
    """Lower-case some entries and apply light shorthand/typos the way people write."""
    swaps = [("REPLACED", "REPLCD"), ("INSPECTED", "INSP"), ("CHECK", "CHK"), ("SATIS", "SAT"),
             ("WALKROUND", "W/A"), ("AWAITING", "AWTG"), ("REQD", "REQ'D"), ("CARRIED OUT", "C/O"),
             ("REPORTED", "RPTD"), ("DURING", "DRG"), ("ON GROUND", "ON GND")]
    for old, new in swaps:
        if old in text and rng.random() < 0.3:
            text = text.replace(old, new, 1)
    style = rng.random()
    if style < 0.22:
        text = text.lower()
    elif style < 0.3:
        text = text.capitalize()
    return text


def make_entry(rng: random.Random) -> tuple[str, dict]:
    comp = rng.choice(COMPONENTS)
    position = rng.choice(comp["pos"])
    defect = rng.choice(sorted(comp["defects"]))
    outcome = pick_outcome(comp, defect, rng)
    if outcome is None:
        return make_entry(rng)
    action, status, mel_cat, aog = outcome
    parts = comp["parts"][defect] if isinstance(comp["parts"], dict) else comp["parts"]
    reg = rng.choice(FLEET)
    station = rng.choice(STATIONS)
    row = rng.randint(1, 17)
    ctx = {
        "pos": rng.choice(POS_WORDS[comp["kind"]].get(position, [""])),
        "noun": "", "n": rng.choice([2, 3, 4, 5, 6, 8, 12, 15, 20, 30, 40]),
        "seat": f"{row}{rng.choice('ACDF')}", "row": row, "row2": row + rng.randint(1, 3),
        "part": rng.choice(parts), "amm": amm(comp["ata"], rng), "svc": f"12-{rng.randint(11, 16)}-{comp['ata']}",
        "srm": f"{comp['ata']}-{rng.randint(10, 40)}-{rng.randint(1, 9):02d}",
        "pn": f"{rng.choice(['C', 'D', 'S', '7', '8'])}{rng.randint(10000, 99999)}-{rng.randint(1, 12):02d}",
        "sn": f"{rng.choice(['SN', 'AX', 'K', ''])}{rng.randint(1000, 99999)}",
        "mel": comp["mel"][0] if comp["mel"] else "", "cat": mel_cat, "add": f"{rng.randint(100, 999)}",
        "cb": f"{rng.choice('ABCDEFGH')}{rng.randint(1, 30)}", "eta": f"{rng.randint(0, 23):02d}{rng.choice(['00', '15', '30', '45'])}",
        "hub": rng.choice(HUBS), "lic": f"UK.66.{rng.randint(100000, 999999)}", "auth": f"SKA/{rng.randint(10, 299)}",
        "tlb": f"{rng.randint(1000, 9999)}", "kt": rng.randint(40, 90), "d": rng.randint(8, 25), "item": rng.randint(1, 6),
    }
    ctx["noun"] = fill(rng.choice(comp["nouns"]), ctx)
    template = rng.choice(comp["defects"][defect])
    if len(comp["pos"]) > 1 and ("{pos}" not in template or not ctx["pos"]):
        raise ValueError(f"{comp['name']}: position {position} not stated in {template!r}")
    ctx["qty"] = fill(rng.choice(QTY.get(comp["name"], ["AS REQD"])), ctx)
    symptom = fill(template, ctx)
    symptom = re.sub(r"\s+", " ", symptom).strip(" ,")
    if action == "deferred":
        rect = fill(rng.choice(DEFER_TEXT), ctx)
    elif status == "open":
        rect = fill(rng.choice(AOG_TEXT if aog else OPEN_TEXT), ctx)
    else:
        rect = fill(rng.choice(comp.get("fix", {}).get(action, ACTION_TEXT[action])), ctx)
        end = tail(comp, defect, rng)
        if action != "no_fault_found" and rng.random() < 0.7 and end not in rect:
            rect += rng.choice([". ", ", "]) + end
    sign = fill(rng.choice(SIGNOFF), ctx) if status != "open" else ""
    day, mon = rng.randint(1, 28), rng.randint(1, 12)
    when = rng.choice([f"{day:02d}/{mon:02d}", f"{day:02d}{['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'][mon - 1]}",
                       f"{rng.randint(0, 23):02d}{rng.choice(['05', '20', '35', '50'])}Z", ""])
    header = rng.choice([f"{reg} {station} {when}", f"{reg}/{station}", f"{station} {reg} {when}", f"{reg} {when}", f"A/C {reg} @ {station}", f"{reg}"])
    header = re.sub(r"\s+", " ", header).strip()
    opener = fill(rng.choice(OPENERS), ctx)
    layout = rng.random()
    if layout < 0.45:
        text = f"{header}: {opener}{symptom}. {rect}."
    elif layout < 0.7:
        text = f"{opener}{symptom} ({header}). {rect}."
    elif layout < 0.88:
        text = f"{header} - {symptom.rstrip('.')} / ACTION: {rect}."
    else:
        text = f"{opener}{symptom}. {rect}. {header}."
    if sign:
        text += f" {sign}."
    text = shorthand(text.replace("..", "."), rng)
    record = {"aircraft": reg, "ata": comp["ata"], "component": comp["name"], "position": position,
              "defect": defect, "action": action, "status": status, "mel_cat": mel_cat, "aog": aog}
    return text, record


def tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def generate() -> list[tuple[str, dict]]:
    rng = random.Random(SEED)
    accepted: list[tuple[str, dict]] = []
    seen: list[set[str]] = []
    while len(accepted) < N_EXAMPLES + N_QUESTIONS:
        text, record = make_entry(rng)
        toks = tokens(text)
        if any(jaccard(toks, other) >= 0.6 for other in seen):
            continue
        accepted.append((text, record))
        seen.append(toks)
    return accepted


def main() -> None:
    entries = generate()
    rng = random.Random(SEED + 1)
    rng.shuffle(entries)
    questions, examples = entries[:N_QUESTIONS], entries[N_QUESTIONS:]
    with open(HERE / "examples.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for text, record in examples:
            messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text},
                        {"role": "assistant", "content": json.dumps(record)}]
            f.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
    with open(HERE / "questions.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for i, (text, record) in enumerate(questions, 1):
            tags = [record["component"], record["status"]]
            line = {"id": f"fmt-{i:03d}", "question": text, "reference": json.dumps(record),
                    "tags": tags, "source": "schema.md"}
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"wrote {len(examples)} examples and {len(questions)} questions to {HERE}")


if __name__ == "__main__":
    main()
