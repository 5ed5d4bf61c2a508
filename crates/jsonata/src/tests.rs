//! Tests of the public API: a table of expression / input / expected result
//! (mostly the examples of docs.jsonata.org and the AWS Step Functions
//! JSONata guide), error codes and positions, the resource caps, and a loop
//! over garbled text that must never panic or hang.

use super::{Bindings, Expression, JsonataError, Limits};
use serde_json::{json, Value};

/// The "Address" sample of the JSONata documentation.
const PERSON: &str = r#"{"FirstName":"Fred","Surname":"Smith","Age":28,"Address":{"Street":"Hursley Park","City":"Winchester","Postcode":"SO21 2JN"},"Phone":[{"type":"home","number":"0203 544 1234"},{"type":"office","number":"01962 001234"},{"type":"office","number":"01962 001235"},{"type":"mobile","number":"077 7700 1234"}],"Email":[{"type":"work","address":["fred.smith@my-work.com","fsmith@my-work.com"]},{"type":"home","address":["freddy@my-social.com","frederic.smith@very-serious.com"]}],"Other":{"Over 18 ?":true,"Misc":null,"Alternative.Address":{"Street":"Brick Lane","City":"London","Postcode":"E1 6RF"}}}"#;

/// The "Invoice" sample of the JSONata documentation.
const ACCOUNT: &str = r#"{"Account":{"Account Name":"Firefly","Order":[{"OrderID":"order103","Product":[{"Product Name":"Bowler Hat","ProductID":858383,"SKU":"0406654608","Description":{"Colour":"Purple","Width":300,"Height":200,"Depth":210,"Weight":0.75},"Price":34.45,"Quantity":2},{"Product Name":"Trilby hat","ProductID":858236,"SKU":"0406634348","Description":{"Colour":"Orange","Width":300,"Height":200,"Depth":210,"Weight":0.6},"Price":21.67,"Quantity":1}]},{"OrderID":"order104","Product":[{"Product Name":"Bowler Hat","ProductID":858383,"SKU":"040657863","Description":{"Colour":"Purple","Width":300,"Height":200,"Depth":210,"Weight":0.75},"Price":34.45,"Quantity":4},{"ProductID":345664,"SKU":"0406654603","Product Name":"Cloak","Description":{"Colour":"Black","Width":30,"Height":20,"Depth":210,"Weight":2},"Price":107.99,"Quantity":1}]}]}}"#;

/// (expression, input: "P" person / "A" account / "N" null, expected JSON
/// text, or "undefined", or "error:CODE").
const CASES: &[(&str, &str, &str)] = &[
    // Paths, arrays, singletons, wildcards.
    ("Surname", "P", r#""Smith""#),
    ("Age", "P", "28"),
    ("Address.City", "P", r#""Winchester""#),
    ("Other.Misc", "P", "null"),
    ("Other.Nothing", "P", "undefined"),
    ("Other.`Over 18 ?`", "P", "true"),
    ("Other.`Alternative.Address`.City", "P", r#""London""#),
    ("Phone[0]", "P", r#"{"type":"home","number":"0203 544 1234"}"#),
    ("Phone[-1]", "P", r#"{"type":"mobile","number":"077 7700 1234"}"#),
    ("Phone[-2].number", "P", r#""01962 001235""#),
    ("Phone[8]", "P", "undefined"),
    ("Phone.number", "P", r#"["0203 544 1234","01962 001234","01962 001235","077 7700 1234"]"#),
    ("Phone.number[0]", "P", r#"["0203 544 1234","01962 001234","01962 001235","077 7700 1234"]"#),
    ("(Phone.number)[0]", "P", r#""0203 544 1234""#),
    ("Phone[[0..1]].type", "P", r#"["home","office"]"#),
    ("Phone[type='mobile'].number", "P", r#""077 7700 1234""#),
    ("Phone[type='office'].number", "P", r#"["01962 001234","01962 001235"]"#),
    ("Phone[type='office'][1].number", "P", r#""01962 001235""#),
    ("Phone[type='mobile'].number[]", "P", r#"["077 7700 1234"]"#),
    ("Address.City[]", "P", r#"["Winchester"]"#),
    ("Address.*", "P", r#"["Hursley Park","Winchester","SO21 2JN"]"#),
    ("*.Postcode", "P", r#""SO21 2JN""#),
    ("**.Postcode", "P", r#"["SO21 2JN","E1 6RF"]"#),
    ("**.City", "P", r#"["Winchester","London"]"#),
    ("Other.*", "P", r#"[true,null,{"Street":"Brick Lane","City":"London","Postcode":"E1 6RF"}]"#),
    ("Email.address", "P", r#"["fred.smith@my-work.com","fsmith@my-work.com","freddy@my-social.com","frederic.smith@very-serious.com"]"#),
    ("Email.address[0]", "P", r#"["fred.smith@my-work.com","freddy@my-social.com"]"#),
    ("(Email.address)[-1]", "P", r#""frederic.smith@very-serious.com""#),
    ("Email[type='work'].address", "P", r#"["fred.smith@my-work.com","fsmith@my-work.com"]"#),
    ("$.Age", "P", "28"),
    ("$$.Age", "P", "28"),
    ("Phone.($$.Surname)", "P", r#"["Smith","Smith","Smith","Smith"]"#),
    ("[Address.City]", "P", r#"["Winchester"]"#),
    ("[Phone.number][0]", "P", r#""0203 544 1234""#),
    ("Phone.[number]", "P", r#"[["0203 544 1234"],["01962 001234"],["01962 001235"],["077 7700 1234"]]"#),
    ("Account.Order[0].OrderID", "A", r#""order103""#),
    ("Account.Order.Product.Price", "A", "[34.45,21.67,34.45,107.99]"),
    ("Account.Order.Product.Price[0]", "A", "[34.45,21.67,34.45,107.99]"),
    ("Account.Order.Product[0].Price", "A", "[34.45,34.45]"),
    ("Account.Order[0].Product[Quantity > 1].\"Product Name\"", "A", r#""Bowler Hat""#),
    ("Account.Order.Product[Price > 30].`Product Name`", "A", r#"["Bowler Hat","Bowler Hat","Cloak"]"#),
    ("Account.Order[OrderID=\"order104\"].Product.Quantity", "A", "[4,1]"),
    ("Account.Order.Product[$.Quantity > 1].SKU", "A", r#"["0406654608","040657863"]"#),
    ("[{\"a\":1},{\"a\":[2,3]}].a", "N", "[1,2,3]"),
    ("[{\"x\":[1,2]},{\"x\":[3]}].x[0]", "N", "[1,3]"),
    ("{\"a\":{\"b\":{\"c\":5}}}.a.b.c", "N", "5"),
    ("[[1,2],[3,4]][0]", "N", "[1,2]"),
    ("[[1,2],[3,4]].$[0]", "N", "[1,3]"),
    ("[1,2,3][$ > 1]", "N", "[2,3]"),
    ("[1,2,3][1]", "N", "2"),
    ("[1,2,3].($ * 10)", "N", "[10,20,30]"),
    ("[1,2,3].{\"v\": $}", "N", r#"[{"v":1},{"v":2},{"v":3}]"#),
    ("nothing.a", "N", "undefined"),
    // Order-by and grouping.
    ("Account.Order.Product^(Price).`Product Name`", "A", r#"["Trilby hat","Bowler Hat","Bowler Hat","Cloak"]"#),
    ("Account.Order.Product^(>Price).ProductID", "A", "[345664,858383,858383,858236]"),
    ("Account.Order.Product^(Quantity, >Price).SKU", "A", r#"["0406654603","0406634348","0406654608","040657863"]"#),
    ("(Phone^(number).number)[0]", "P", r#""01962 001234""#),
    ("Phone^(>type, number).type", "P", r#"["office","office","mobile","home"]"#),
    ("[3,1,2]^($)", "N", "[1,2,3]"),
    ("Phone{type: number}", "P", r#"{"home":"0203 544 1234","office":["01962 001234","01962 001235"],"mobile":"077 7700 1234"}"#),
    ("Phone{type: $count(number)}", "P", r#"{"home":1,"office":2,"mobile":1}"#),
    ("Account.Order.Product{`Product Name`: $sum(Quantity)}", "A", r#"{"Bowler Hat":6,"Trilby hat":1,"Cloak":1}"#),
    ("Account.Order.Product{`Product Name`: Price}", "A", r#"{"Bowler Hat":[34.45,34.45],"Trilby hat":21.67,"Cloak":107.99}"#),
    // Constructors.
    (
        "Phone.{type: number}",
        "P",
        r#"[{"home":"0203 544 1234"},{"office":"01962 001234"},{"office":"01962 001235"},{"mobile":"077 7700 1234"}]"#,
    ),
    (
        "Account.Order.{\"id\": OrderID, \"total\": $round($sum(Product.(Price*Quantity)), 2)}",
        "A",
        r#"[{"id":"order103","total":90.57},{"id":"order104","total":245.79}]"#,
    ),
    ("{\"a\": 1, \"b\": [true, null]}", "N", r#"{"a":1,"b":[true,null]}"#),
    ("{\"a\": nothing}", "N", "{}"),
    ("{'single': 'quotes'}", "N", r#"{"single":"quotes"}"#),
    ("[1..5]", "N", "[1,2,3,4,5]"),
    ("[1..3, 7]", "N", "[1,2,3,7]"),
    ("[5..1]", "N", "[]"),
    ("[]", "N", "[]"),
    ("[[1,2],[3]]", "N", "[[1,2],[3]]"),
    ("($x := [1,2]; [$x, 3])", "N", "[1,2,3]"),
    // Literals and arithmetic.
    ("1 + 2", "N", "3"),
    ("7 - 10", "N", "-3"),
    ("7 / 2", "N", "3.5"),
    ("7 % 3", "N", "1"),
    ("-7 % 3", "N", "-1"),
    ("2 + 3 * 4", "N", "14"),
    ("(2 + 3) * 4", "N", "20"),
    ("10 / 4 * 2", "N", "5"),
    ("2 * -3", "N", "-6"),
    ("-(5)", "N", "-5"),
    ("1.5e2", "N", "150"),
    ("0.1 + 0.2", "N", "0.30000000000000004"),
    ("0.5 + 0.5", "N", "1"),
    ("\"tab\\there\"", "N", r#""tab\there""#),
    ("\"\\u00e9\\\"\\/\"", "N", r#""é\"/""#),
    ("\"\\ud83d\\ude00\"", "N", r#""😀""#),
    ("'single'", "N", r#""single""#),
    ("/* comment */ 1 + 1", "N", "2"),
    ("1 + nothing", "N", "undefined"),
    // Comparison, boolean, membership, concatenation.
    ("1 = 1", "N", "true"),
    ("1 != 2", "N", "true"),
    ("2 <= 2", "N", "true"),
    ("3 >= 4", "N", "false"),
    ("\"a\" < \"b\"", "N", "true"),
    ("1 = \"1\"", "N", "false"),
    ("{\"a\":[1,{\"b\":2}]} = {\"a\":[1,{\"b\":2}]}", "N", "true"),
    ("Other.Misc = null", "P", "true"),
    ("nothing = nothing", "N", "false"),
    ("true and false", "N", "false"),
    ("true or false", "N", "true"),
    ("true and nothing", "N", "false"),
    ("nothing or true", "N", "true"),
    ("1 < 2 and 2 < 3", "N", "true"),
    ("3 in [1,2,3]", "N", "true"),
    ("Age in [28, 30]", "P", "true"),
    ("\"office\" in Phone.type", "P", "true"),
    ("\"x\" in nothing", "N", "false"),
    ("\"a\" & 1 & true", "N", r#""a1true""#),
    ("\"a\" & nothing", "N", r#""a""#),
    ("FirstName & \" \" & Surname", "P", r#""Fred Smith""#),
    ("Address.(Street & \", \" & City)", "P", r#""Hursley Park, Winchester""#),
    // Conditionals, default, coalescing.
    ("Age > 18 ? \"adult\" : \"minor\"", "P", r#""adult""#),
    ("true ? 1 : 2", "N", "1"),
    ("false ? 1", "N", "undefined"),
    ("0 ?: 5", "N", "5"),
    ("Other.Misc ?: \"default\"", "P", r#""default""#),
    ("Surname ?: \"x\"", "P", r#""Smith""#),
    ("nothing ?? 5", "N", "5"),
    ("0 ?? 5", "N", "0"),
    ("Other.Misc ?? \"d\"", "P", "null"),
    // Blocks, variables, functions.
    ("($x := 5; $x * 2)", "N", "10"),
    ("($a := 1; $b := $a + 1; [$a, $b])", "N", "[1,2]"),
    ("(1; 2; 3)", "N", "3"),
    ("$x := 1", "N", "1"),
    ("($x := [1,2,3]; $x[1])", "N", "2"),
    ("$bound", "N", "42"),
    ("$states.input.x", "N", "7"),
    ("$states.context.Execution.Name", "N", r#""run-1""#),
    ("$exists($states.result)", "N", "false"),
    ("($add := function($a, $b){ $a + $b }; $add(2, 3))", "N", "5"),
    ("($f := λ($x){$x*$x}; $f(4))", "N", "16"),
    ("(function($a, $b)<nn:n>{ $a + $b })(2, 3)", "N", "5"),
    ("($fact := function($n){ $n <= 1 ? 1 : $n * $fact($n-1) }; $fact(5))", "N", "120"),
    ("($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100))", "N", "100"),
    ("($f := function($n, $acc){ $n = 0 ? $acc : $f($n - 1, $acc + $n) }; $f(100000, 0))", "N", "5000050000"),
    (
        "($even := function($n){ $n = 0 ? true : $odd($n - 1) }; $odd := function($n){ $n = 0 ? false : $even($n - 1) }; $odd(6555))",
        "N",
        "true",
    ),
    ("($make := function($n){ function($x){ $x + $n } }; $add5 := $make(5); $add5(10))", "N", "15"),
    ("($first3 := $substring(?, 0, 3); $first3(\"Hello\"))", "N", r#""Hel""#),
    ("($p := $power(2, ?); [$p(3), $p(4)])", "N", "[8,16]"),
    ("($a := [1,2]; $b := $a ~> $map(function($v){$v*10}); $sum($b))", "N", "30"),
    // Higher-order functions and chaining.
    ("$map([1,2,3], function($v){ $v * 2 })", "N", "[2,4,6]"),
    ("$map([1,2,3], function($v, $i){ $i })", "N", "[0,1,2]"),
    ("$map([1,2,3], $string)", "N", r#"["1","2","3"]"#),
    ("$map(Phone, function($p, $i){ $string($i) & \":\" & $p.type })", "P", r#"["0:home","1:office","2:office","3:mobile"]"#),
    ("$filter([1,2,3,4], function($v){ $v % 2 = 0 })", "N", "[2,4]"),
    ("$filter(Account.Order.Product, function($p){$p.Quantity > 1}).SKU", "A", r#"["0406654608","040657863"]"#),
    ("$reduce([1,2,3,4], function($acc, $v){ $acc + $v })", "N", "10"),
    ("$reduce([1,2,3], function($a,$v){$a+$v}, 10)", "N", "16"),
    ("$reduce([1..5], function($a, $b){ $a * $b })", "N", "120"),
    ("$single([1,2,3], function($v){ $v = 2 })", "N", "2"),
    ("$single(Phone, function($p){$p.type = \"home\"}).number", "P", r#""0203 544 1234""#),
    ("$sift({\"a\":1,\"b\":2,\"c\":3}, function($v){ $v > 1 })", "N", r#"{"b":2,"c":3}"#),
    ("$sift(Address, function($v,$k){$k = \"City\"})", "P", r#"{"City":"Winchester"}"#),
    ("$each({\"a\":1,\"b\":2}, function($v,$k){ $k & \"=\" & $v })", "N", r#"["a=1","b=2"]"#),
    ("[1,2,3] ~> $map(function($v){$v+1})", "N", "[2,3,4]"),
    ("\"hello\" ~> $uppercase()", "N", r#""HELLO""#),
    ("\"hello\" ~> $substring(?, 1)", "N", r#""ello""#),
    ("($inc := function($x){$x+1}; $twice := $inc ~> $inc; $twice(1))", "N", "3"),
    ("Account.Order.Product.(Price * Quantity) ~> $sum() ~> $round(2)", "A", "336.36"),
    ("Phone.number ~> $join(\", \")", "P", r#""0203 544 1234, 01962 001234, 01962 001235, 077 7700 1234""#),
    ("Phone.$uppercase(type)", "P", r#"["HOME","OFFICE","OFFICE","MOBILE"]"#),
    ("Phone.type.$uppercase()", "P", r#"["HOME","OFFICE","OFFICE","MOBILE"]"#),
    ("Address.City.$substring(0, 3)", "P", r#""Win""#),
    ("$sum(Phone.$length(number))", "P", "50"),
    // Aggregates and numeric functions.
    ("$round($sum(Account.Order.Product.(Price * Quantity)), 2)", "A", "336.36"),
    ("$sum(Account.Order.Product.Quantity)", "A", "8"),
    ("$average(Account.Order.Product.Quantity)", "A", "2"),
    ("$min(Account.Order.Product.Price)", "A", "21.67"),
    ("Account.Order.Product.Description.Weight ~> $max()", "A", "2"),
    ("[$sum([1,2,3]), $max([1,5,3]), $min([4,2]), $average([1,2,3,4])]", "N", "[6,5,2,2.5]"),
    ("$sum([])", "N", "0"),
    ("$sum(nothing)", "N", "undefined"),
    ("$max([])", "N", "undefined"),
    ("$sum([1..100])", "N", "5050"),
    ("[$abs(-5), $floor(5.7), $ceil(5.2), $round(2.5), $round(3.5)]", "N", "[5,5,6,2,4]"),
    ("[$abs(-0.5), $floor(-1.5), $round(-2.5)]", "N", "[0.5,-2,-2]"),
    ("$round(123.456, 2)", "N", "123.46"),
    ("$round(0.125, 2)", "N", "0.12"),
    ("$round(123.456, -1)", "N", "120"),
    ("$power(2, 10)", "N", "1024"),
    ("$power(4, 0.5)", "N", "2"),
    ("$sqrt(16)", "N", "4"),
    ("$number(\"42\")", "N", "42"),
    ("$number(\"-1.5e1\")", "N", "-15"),
    ("$number(\"0x12\")", "N", "18"),
    ("$number(true)", "N", "1"),
    ("$formatBase(100, 2)", "N", r#""1100100""#),
    ("$formatBase(255, 16)", "N", r#""ff""#),
    ("$formatBase(-255, 16)", "N", r#""-ff""#),
    ("$formatNumber(12345.6, \"#,###.00\")", "N", r#""12,345.60""#),
    ("$formatNumber(1234.5678, \"00.000\")", "N", r#""1234.568""#),
    ("$formatNumber(1234.5678, \"#,##0.00\")", "N", r#""1,234.57""#),
    ("$formatNumber(0.14, \"01%\")", "N", r#""14%""#),
    ("$formatNumber(34.555, \"#0.00;(#0.00)\")", "N", r#""34.56""#),
    ("$formatNumber(-34.555, \"#0.00;(#0.00)\")", "N", r#""(34.56)""#),
    ("$formatNumber(1234.5, \"#.##0,00\", {\"decimal-separator\": \",\", \"grouping-separator\": \".\"})", "N", r#""1.234,50""#),
    ("$formatNumber(1234.56789, \"9,999.999,999\")", "N", r#""1,234.567,890""#),
    ("$formatNumber(0.14, \"###pm\", {\"per-mille\": \"pm\"})", "N", r#""140pm""#),
    ("$formatNumber(20, \"#;#;#\")", "N", "error:D3080"),
    ("$formatNumber(20, \"0,,0\")", "N", "error:D3089"),
    ("$formatInteger(1234, \"#,##0\")", "N", r#""1,234""#),
    ("$parseInteger(\"12,345\", \"#,##0\")", "N", "12345"),
    ("$random() < 1", "N", "true"),
    // Strings.
    ("$string(123)", "N", r#""123""#),
    ("$string(0.1+0.2)", "N", r#""0.3""#),
    ("$string(10/4)", "N", r#""2.5""#),
    ("$string(1e21)", "N", r#""1e21""#),
    ("$string(1e-100)", "N", r#""1e-100""#),
    ("$string(0.0000001)", "N", r#""1e-7""#),
    ("$string(-0.5)", "N", r#""-0.5""#),
    ("$string(null)", "N", r#""null""#),
    ("$string({\"a\":1})", "N", r#""{\"a\":1}""#),
    ("$string([1,\"a\"])", "N", r#""[1,\"a\"]""#),
    ("$string({\"a\":[1,2]}, true)", "N", r#""{\n  \"a\": [\n    1,\n    2\n  ]\n}""#),
    (
        "$string(Account.Order[0].Product[0].Description)",
        "A",
        r#""{\"Colour\":\"Purple\",\"Width\":300,\"Height\":200,\"Depth\":210,\"Weight\":0.75}""#,
    ),
    ("$string(nothing)", "N", "undefined"),
    ("$length(\"hello\")", "N", "5"),
    ("$length(\"日本\")", "N", "2"),
    ("$substring(\"hello world\", 6)", "N", r#""world""#),
    ("$substring(\"hello\", 1, 3)", "N", r#""ell""#),
    ("$substring(\"hello\", -3)", "N", r#""llo""#),
    ("$substring(\"hello\", -3, 2)", "N", r#""ll""#),
    ("$substring(\"Hello World\", 3, 5)", "N", r#""lo Wo""#),
    ("$substringBefore(\"hello world\", \" \")", "N", r#""hello""#),
    ("$substringAfter(\"a.b.c\", \".\")", "N", r#""b.c""#),
    ("$substringBefore(\"abc\", \"x\")", "N", r#""abc""#),
    ("$uppercase(\"abc\") & $lowercase(\"ABC\")", "N", r#""ABCabc""#),
    ("$uppercase(\"straße\")", "N", r#""STRASSE""#),
    ("$trim(\"  a   b  \")", "N", r#""a b""#),
    ("$pad(\"5\", 3, \"0\")", "N", r#""500""#),
    ("$pad(\"5\", -3, \"0\")", "N", r#""005""#),
    ("$pad(\"foo\", 5)", "N", r#""foo  ""#),
    ("$pad(\"abc\", -6, \"#\")", "N", r####""###abc""####),
    ("$contains(\"abracadabra\", \"bra\")", "N", "true"),
    ("$contains(\"abracadabra\", /a.*a/)", "N", "true"),
    ("$contains(\"Hello\", /^h/i)", "N", "true"),
    ("$contains(\"abc\", /^x/)", "N", "false"),
    ("$split(\"a,b,c\", \",\")", "N", r#"["a","b","c"]"#),
    ("$split(\"a,b,c\", \",\", 2)", "N", r#"["a","b"]"#),
    ("$split(\"a1b22c\", /\\d+/)", "N", r#"["a","b","c"]"#),
    ("$split(\"abc\", \"\")", "N", r#"["a","b","c"]"#),
    ("$split(\"one two\", \" \")[1]", "N", r#""two""#),
    ("$join([\"a\",\"b\"], \"-\")", "N", r#""a-b""#),
    ("$join($map([1,2,3], $string), \",\")", "N", r#""1,2,3""#),
    (
        "$match(\"ababbabbcc\", /a(b+)/)",
        "N",
        r#"[{"match":"ab","index":0,"groups":["b"]},{"match":"abb","index":2,"groups":["bb"]},{"match":"abb","index":5,"groups":["bb"]}]"#,
    ),
    ("$match(\"abc\", /B/i).match", "N", r#""b""#),
    ("$match(\"The year 2024 and 2025\", /\\d{4}/).match", "N", r#"["2024","2025"]"#),
    ("$replace(\"John Smith\", \"John\", \"Mr\")", "N", r#""Mr Smith""#),
    ("$replace(\"abcabc\", \"b\", \"x\", 1)", "N", r#""axcabc""#),
    ("$replace(\"John Smith\", /(\\w+)\\s(\\w+)/, \"$2, $1\")", "N", r#""Smith, John""#),
    ("$replace(\"265USD\", /([0-9]+)USD/, \"$$$1\")", "N", r#""$265""#),
    ("$replace(\"hello world\", /o/, \"0\", 1)", "N", r#""hell0 world""#),
    ("$replace(\"abc\", /(b)/, function($m){ $uppercase($m.match) })", "N", r#""aBc""#),
    ("$base64encode(\"myuser:mypass\")", "N", r#""bXl1c2VyOm15cGFzcw==""#),
    ("$base64decode(\"bXl1c2VyOm15cGFzcw==\")", "N", r#""myuser:mypass""#),
    ("$encodeUrlComponent(\"?x=test\")", "N", r#""%3Fx%3Dtest""#),
    ("$decodeUrlComponent(\"%3Fx%3Dtest\")", "N", r#""?x=test""#),
    ("$encodeUrl(\"https://mozilla.org/?x=шеллы\")", "N", r#""https://mozilla.org/?x=%D1%88%D0%B5%D0%BB%D0%BB%D1%8B""#),
    ("$decodeUrl(\"https://mozilla.org/?x=%D1%88%D0%B5%D0%BB%D0%BB%D1%8B\")", "N", r#""https://mozilla.org/?x=шеллы""#),
    // Arrays.
    ("$count(Phone)", "P", "4"),
    ("$count([])", "N", "0"),
    ("$count(nothing)", "N", "0"),
    ("$count([1,[2,3]])", "N", "2"),
    ("$count(Phone[type=\"office\"])", "P", "2"),
    ("$append([1,2],[3])", "N", "[1,2,3]"),
    ("$append(1, 2)", "N", "[1,2]"),
    ("$append([1], [[2]])", "N", "[1,[2]]"),
    ("$sort([3,1,2])", "N", "[1,2,3]"),
    ("$sort([\"b\",\"a\"])", "N", r#"["a","b"]"#),
    ("$sort([{\"a\":2},{\"a\":1}], function($l,$r){ $l.a > $r.a })", "N", r#"[{"a":1},{"a":2}]"#),
    ("$sort(Account.Order.Product, function($a,$b){ $a.Price > $b.Price }).Price", "A", "[21.67,34.45,34.45,107.99]"),
    ("$reverse([1,2,3])", "N", "[3,2,1]"),
    ("$sort($shuffle([1,2,3]))", "N", "[1,2,3]"),
    ("$distinct([1,2,2,\"a\",\"a\"])", "N", r#"[1,2,"a"]"#),
    ("$distinct([{\"a\":1},{\"a\":1},{\"b\":2}])", "N", r#"[{"a":1},{"b":2}]"#),
    ("$distinct(Account.Order.Product.`Product Name`)", "A", r#"["Bowler Hat","Trilby hat","Cloak"]"#),
    ("$zip([1,2,3],[4,5,6])", "N", "[[1,4],[2,5],[3,6]]"),
    ("$zip([1,2,3],[4,5])", "N", "[[1,4],[2,5]]"),
    // Objects and types.
    ("$keys({\"a\":1,\"b\":2})", "N", r#"["a","b"]"#),
    ("$keys(Address)", "P", r#"["Street","City","Postcode"]"#),
    ("$keys(Phone)", "P", r#"["type","number"]"#),
    ("$lookup({\"a\":1}, \"a\")", "N", "1"),
    ("$lookup(Phone, \"type\")", "P", r#"["home","office","office","mobile"]"#),
    ("$spread({\"a\":1,\"b\":2})", "N", r#"[{"a":1},{"b":2}]"#),
    ("$merge([{\"a\":1},{\"b\":2},{\"a\":3}])", "N", r#"{"a":3,"b":2}"#),
    (
        "[$type(1), $type(\"a\"), $type(null), $type([]), $type({}), $type(true), $type(function(){1})]",
        "N",
        r#"["number","string","null","array","object","boolean","function"]"#,
    ),
    ("$type(nothing)", "N", "undefined"),
    ("$exists(nothing)", "N", "false"),
    ("$exists(Other.Misc)", "P", "true"),
    ("[$boolean(0), $boolean(\"\"), $boolean(\"a\"), $boolean([]), $boolean({}), $not(true)]", "N", "[false,false,true,false,false,false]"),
    ("[$boolean([0, 1]), $boolean([false]), $not(0)]", "N", "[true,false,true]"),
    ("$assert(true, \"x\")", "N", "undefined"),
    // Date and time.
    ("$fromMillis(1510067557121)", "N", r#""2017-11-07T15:12:37.121Z""#),
    ("$fromMillis(0)", "N", r#""1970-01-01T00:00:00.000Z""#),
    ("$fromMillis(1521801216617, \"[Y0001]-[M01]-[D01]\")", "N", r#""2018-03-23""#),
    ("$fromMillis(1510067557121, \"[FNn], [D1] [MNn] [Y]\")", "N", r#""Tuesday, 7 November 2017""#),
    ("$fromMillis(1510067557121, \"[H01]:[m01]\", \"+0100\")", "N", r#""16:12""#),
    ("$fromMillis(1510067557121, undefined, \"-0500\")", "N", r#""2017-11-07T10:12:37.121-05:00""#),
    ("$toMillis(\"2017-11-07T15:12:37.121Z\")", "N", "1510067557121"),
    ("$toMillis(\"2017-11-07T15:12:37.121+01:00\")", "N", "1510063957121"),
    ("$toMillis(\"2017-11-07\")", "N", "1510012800000"),
    ("$fromMillis($toMillis(\"2020-02-29T12:00:00Z\"))", "N", r#""2020-02-29T12:00:00.000Z""#),
    ("$type($now())", "N", r#""string""#),
    ("$length($now())", "N", "24"),
    ("$now() = $now()", "N", "true"),
    ("$millis() > 1500000000000", "N", "true"),
    // AWS Step Functions additions.
    ("$partition([1,2,3,4,5], 2)", "N", "[[1,2],[3,4],[5]]"),
    ("$partition([1,2,3,4,5,6,7,8,9], 3)", "N", "[[1,2,3],[4,5,6],[7,8,9]]"),
    ("$range(0, 10, 2)", "N", "[0,2,4,6,8,10]"),
    ("$range(10, 0, -5)", "N", "[10,5,0]"),
    ("$range(1, 3)", "N", "[1,2,3]"),
    ("$hash(\"input data\", \"MD5\")", "N", r#""812f45842bc6d66ee14572ce20db8e86""#),
    ("$hash(\"input data\", \"SHA-1\")", "N", r#""aaff4a450a104cd177d28d18d74485e8cae074b7""#),
    ("$hash(\"input data\", \"SHA-256\")", "N", r#""b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3""#),
    (
        "$hash(\"input data\", \"SHA-384\")",
        "N",
        r#""d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562""#,
    ),
    (
        "$hash(\"input data\", \"SHA-512\")",
        "N",
        r#""6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4""#,
    ),
    ("$parse('{\"a\":[1,2]}').a[1]", "N", "2"),
    ("$count($split($uuid(), \"-\"))", "N", "5"),
    ("$random(42) = $random(42)", "N", "true"),
    ("$random(42) < 1 and $random(42) >= 0", "N", "true"),
    // new java.util.Random(42).nextDouble(); a seed is truncated like Java's (long) cast.
    ("$random(42)", "N", "0.7275636800328681"),
    ("$random(42.9) = $random(42)", "N", "true"),
    // Errors with JSONata's codes.
    ("$sqrt(-1)", "N", "error:D3060"),
    ("$error(\"boom\")", "N", "error:D3137"),
    ("$assert(false, \"bad\")", "N", "error:D3141"),
    ("\"a\" + 1", "N", "error:T2001"),
    ("1 + \"a\"", "N", "error:T2002"),
    ("1 < \"a\"", "N", "error:T2009"),
    ("{} < 1", "N", "error:T2010"),
    ("-\"a\"", "N", "error:D1002"),
    ("1/0", "N", "error:D1001"),
    ("$power(10, 1000)", "N", "error:D3061"),
    ("$uppercase(123)", "N", "error:T0410"),
    ("$sum([\"a\"])", "N", "error:T0412"),
    ("$undefinedfn(1)", "N", "error:T1006"),
    ("Surname()", "P", "error:T1006"),
    ("[1..2.5]", "N", "error:T2004"),
    ("[\"a\"..2]", "N", "error:T2003"),
    ("[1..20000000]", "N", "error:D2014"),
    ("{\"a\":1, \"a\":2}", "N", "error:D1009"),
    ("{1: 2}", "N", "error:T1003"),
    ("$single([1,2])", "N", "error:D3138"),
    ("$single([])", "N", "error:D3139"),
    ("$reduce([1], function($a){$a})", "N", "error:D3050"),
    ("$number(\"x\")", "N", "error:D3030"),
    ("$formatBase(1, 1)", "N", "error:D3100"),
    ("$parse(\"{\")", "N", "error:D3203"),
    ("$hash(\"a\", \"SHA-3\")", "N", "error:D3202"),
    ("$partition([1], 0)", "N", "error:D3200"),
    ("$range(1, 2, 0)", "N", "error:D3201"),
    ("$sort([1, \"a\"])", "N", "error:D3070"),
    ("Phone^(type = \"x\")", "P", "error:T2008"),
    ("(function($a)<n:n>{$a})(\"x\")", "N", "error:T0410"),
    ("$eval(\"1\")", "N", "error:T1006"),
];

fn input(key: &str) -> Value {
    match key {
        "P" => serde_json::from_str(PERSON).unwrap(),
        "A" => serde_json::from_str(ACCOUNT).unwrap(),
        _ => Value::Null,
    }
}

fn bindings() -> Bindings {
    Bindings::new().with("bound", json!(42)).with("states", json!({"input": {"x": 7}, "context": {"Execution": {"Name": "run-1"}}}))
}

fn run(expr: &str, data: &Value) -> Result<Option<Value>, JsonataError> {
    Expression::parse(expr)?.evaluate(data, &bindings())
}

#[test]
fn documentation_examples() {
    let mut failures = Vec::new();
    for (expr, data, expected) in CASES {
        let got = run(expr, &input(data));
        let ok = match (*expected, &got) {
            ("undefined", Ok(None)) => true,
            (e, Err(err)) if e.starts_with("error:") => err.code == &e[6..],
            (e, Ok(Some(v))) if !e.starts_with("error:") && e != "undefined" => serde_json::from_str::<Value>(e).unwrap() == *v,
            _ => false,
        };
        if !ok {
            failures.push(format!("{expr}\n    expected {expected}\n    got      {got:?}"));
        }
    }
    assert!(CASES.len() >= 150, "only {} cases", CASES.len());
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

#[test]
fn integral_results_are_json_integers() {
    let v = run("1 + 2", &Value::Null).unwrap().unwrap();
    assert!(v.is_i64(), "{v:?}");
    assert_eq!(serde_json::to_string(&v).unwrap(), "3");
    let v = run("[0.5 + 0.5, 2.5 * 2, 1e3]", &Value::Null).unwrap().unwrap();
    assert_eq!(serde_json::to_string(&v).unwrap(), "[1,5,1000]");
    assert_eq!(serde_json::to_string(&run("7 / 2", &Value::Null).unwrap().unwrap()).unwrap(), "3.5");
}

#[test]
fn top_level_array_input() {
    let data = json!([{"a": 1}, {"a": 2}]);
    assert_eq!(run("a", &data).unwrap(), Some(json!([1, 2])));
    assert_eq!(run("$[0]", &data).unwrap(), Some(json!({"a": 1})));
    assert_eq!(run("$", &data).unwrap(), Some(data.clone()));
    assert_eq!(run("$count($)", &data).unwrap(), Some(json!(2)));
}

#[test]
fn functions_become_undefined_in_json() {
    assert_eq!(run("function($x){$x}", &Value::Null).unwrap(), None);
    assert_eq!(run("{\"f\": $sum, \"a\": 1}", &Value::Null).unwrap(), Some(json!({"a": 1})));
}

#[test]
fn syntax_errors_carry_code_and_character_position() {
    let cases: &[(&str, &str, usize)] = &[
        ("1 + )", "S0211", 4),
        ("Account.Order[0", "S0203", 15),
        ("\"é\" & )", "S0211", 6),
        ("(1", "S0203", 2),
        ("{\"a\" 1}", "S0202", 5),
        ("1 2", "S0201", 2),
        ("\"abc", "S0101", 0),
        ("`abc", "S0105", 0),
        ("/* x", "S0106", 0),
        ("\"\\q\"", "S0103", 1),
        ("5 := 1", "S0212", 0),
        ("function(a){1}", "S0208", 9),
        ("a.5", "S0213", 2),
        ("%.a", "S0216", 0),
        ("1 +", "S0207", 3),
        ("$match(\"a\", /(?<=a)b/)", "S0303", 12),
    ];
    for (text, code, pos) in cases {
        let e = Expression::parse(text).expect_err(text);
        assert_eq!((e.code, e.position), (*code, Some(*pos)), "{text}: {e}");
    }
    let e = Expression::parse("1 + )").unwrap_err();
    assert_eq!(e.to_string(), "S0211: The symbol ) cannot be used as a unary operator (at position 4)");
}

#[test]
fn evaluation_errors_carry_a_position() {
    let e = run("1 + (\"a\" - 2)", &Value::Null).unwrap_err();
    assert_eq!(e.code, "T2001");
    assert!(e.position.is_some());
}

#[test]
fn expression_is_send_and_sync_and_reusable() {
    fn check<T: Send + Sync>() {}
    check::<Expression>();
    check::<Bindings>();
    let e = Expression::parse("$states.input.n * 2").unwrap();
    for n in 0..5 {
        let b = Bindings::new().with("states", json!({"input": {"n": n}}));
        assert_eq!(e.evaluate(&Value::Null, &b).unwrap(), Some(json!(n * 2)));
    }
    assert_eq!(e.text(), "$states.input.n * 2");
}

#[test]
fn bindings_replace_and_collect() {
    let mut b: Bindings = [("a", json!(1)), ("b", json!(2))].into_iter().collect();
    b.insert("a", json!(3));
    assert_eq!(b.get("a"), Some(&json!(3)));
    assert_eq!(Expression::parse("$a + $b").unwrap().evaluate(&Value::Null, &b).unwrap(), Some(json!(5)));
}

#[test]
fn every_builtin_signature_parses() {
    assert!(super::functions::broken_signatures().is_empty());
}

fn code_of(expr: &str, limits: Limits) -> &'static str {
    match Expression::parse(expr) {
        Err(e) => e.code,
        Ok(e) => match e.evaluate_with_limits(&Value::Null, &Bindings::new(), limits) {
            Err(e) => e.code,
            Ok(_) => "ok",
        },
    }
}

#[test]
fn recursion_is_capped() {
    let d = Limits::default();
    // Tail calls do not nest: an endless tail recursion ends on the step budget.
    assert_eq!(code_of("($f := function($n){ $f($n+1) }; $f(0))", d), "U1003");
    assert_eq!(code_of("($f := function($n){ $f($n+1) + 1 }; $f(0))", d), "U1001");
    assert_eq!(code_of("($w := function($f){ $f($f) }; $w($w))", d), "U1003");
    assert_eq!(code_of("($w := function($f){ [$f($f)] }; $w($w))", d), "U1001");
    // Within the cap, deep recursion works or stops cleanly; never crashes.
    let r = code_of("($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(450))", d);
    assert!(r == "ok" || r == "U1001", "{r}");
    // Composition chains recurse without evaluating nodes: capped by call depth.
    let chain = "($f := $reduce([$string, 1..100000], function($acc, $v){ $acc ~> $string }); $f(1))";
    assert_eq!(code_of(chain, d), "U1001");
}

#[test]
fn sizes_and_steps_are_capped() {
    let d = Limits::default();
    assert_eq!(code_of("[1..20000000]", d), "D2014");
    assert_eq!(code_of("$count([1..10000000].[1..10])", d), "U1003");
    assert_eq!(code_of("$pad(\"\", 100000000, \"x\")", d), "U1004");
    assert_eq!(code_of("$reduce([1..40], function($a, $v){ $a & $a }, \"xx\")", d), "U1004");
    let r = code_of("$reduce([1..40], function($a, $v){ $append($a, $a) }, [1])", d);
    assert!(r == "U1004" || r == "U1003", "{r}");
    let r = code_of("$range(0, 1e12, 1)", d);
    assert!(r == "D2014" || r == "U1003", "{r}");
    let slow = Limits { max_steps: u64::MAX, max_duration: std::time::Duration::from_millis(1), ..Limits::default() };
    assert_eq!(code_of("($f := function($n){ $f($n + 1) }; $f(0))", slow), "U1005");
    let small = Limits { max_steps: 1000, ..Limits::default() };
    assert_eq!(code_of("$sum([1..100000])", small), "U1003");
    assert_eq!(code_of("$sum([1..10])", small), "ok");
}

#[test]
fn deep_values_are_refused_not_overflowed() {
    let d = Limits::default();
    // Built by the expression: converting or stringifying it is refused,
    // and freeing it must not overflow the stack either.
    assert_eq!(code_of("$reduce([1..100000], function($a, $v){ {\"a\": $a} }, 1)", d), "U1002");
    assert_eq!(code_of("$string($reduce([1..100000], function($a, $v){ {\"a\": $a} }, 1))", d), "U1002");
    assert_eq!(code_of("$type($reduce([1..100000], function($a, $v){ {\"a\": $a} }, 1))", d), "ok");
    assert_eq!(code_of("$reduce([1..100000], function($a, $v){ {\"a\": $a} }, 1).a.a.a.a.b", d), "ok");
    assert_eq!(code_of("$count($reduce([1..5000], function($a, $v){ {\"a\": $a} }, 1).**)", d), "U1002");
    // Given as input.
    let mut v = json!(1);
    for _ in 0..2000 {
        v = json!([v]);
    }
    let e = Expression::parse("$").unwrap().evaluate(&v, &Bindings::new()).unwrap_err();
    assert_eq!(e.code, "U1002");
}

#[test]
fn deep_expressions_are_refused() {
    for text in [
        "(".repeat(10_000) + "1" + &")".repeat(10_000),
        "[".repeat(10_000) + &"]".repeat(10_000),
        "-".repeat(100_000) + "1",
        "1".to_string() + &"+1".repeat(100_000),
        "a".to_string() + &".a".repeat(100_000),
        "$f(".repeat(5_000),
        "{\"a\":".repeat(5_000),
    ] {
        let e = Expression::parse(&text).unwrap_err();
        assert!(e.code == "U1002" || e.code.starts_with('S'), "{}: {e}", &text[..20]);
    }
    // Just under the cap still parses and evaluates.
    let ok = "(".repeat(60) + "1" + &")".repeat(60);
    assert_eq!(run(&ok, &Value::Null).unwrap(), Some(json!(1)));
}

/// Garbled text and mutations of real expressions must give `Ok` or a
/// coded error: never a panic (`U1000`), never a hang.
#[test]
fn garbage_never_panics() {
    let alphabet: Vec<char> = "ab$.[](){}\"'`/\\*%^~>?:;=!<>&|,0123456789 -+λ#@é\n\tfunction".chars().collect();
    let seeds = [
        "$map([1,2],function($v){$v})",
        "a.b[0].{\"x\": $sum(c)}",
        "$replace(\"abc\", /b/i, \"$0$1\")",
        "Account.Order.Product^(>Price)",
        "($x := 1; $x ~> $string())",
        "[1..3]{$string($): $}",
        "Phone[type='mobile'].number[]",
        "$reduce([1..5], function($a,$b){$a*$b}, 1)",
        "$fromMillis(0, \"[Y0001]-[M01]\")",
        "$formatNumber(1234.5, \"#,##0.00\")",
    ];
    let limits = Limits { max_steps: 200_000, ..Limits::default() };
    let data: Value = serde_json::from_str(ACCOUNT).unwrap();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let start = std::time::Instant::now();
    let mut evaluated = 0;
    for i in 0..20_000 {
        let text: String = if i % 2 == 0 {
            let len = (next() % 30) as usize;
            (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect()
        } else {
            let mut c: Vec<char> = seeds[(next() % seeds.len() as u64) as usize].chars().collect();
            for _ in 0..(1 + next() % 4) {
                let pos = (next() % (c.len() as u64 + 1)) as usize;
                let ch = alphabet[(next() % alphabet.len() as u64) as usize];
                match next() % 3 {
                    0 if pos < c.len() => {
                        c.remove(pos);
                    }
                    1 => c.insert(pos, ch),
                    _ if pos < c.len() => c[pos] = ch,
                    _ => {}
                }
            }
            c.into_iter().collect()
        };
        match Expression::parse(&text) {
            Err(e) => assert_ne!(e.code, "U1000", "parse panicked on {text:?}"),
            Ok(expr) => {
                evaluated += 1;
                if let Err(e) = expr.evaluate_with_limits(&data, &bindings(), limits) {
                    assert_ne!(e.code, "U1000", "evaluation panicked on {text:?}");
                }
            }
        }
    }
    assert!(evaluated > 1000, "only {evaluated} garbled expressions parsed");
    assert!(start.elapsed().as_secs() < 60, "garbage loop took {:?}", start.elapsed());
}

/// JSONata's sequence rule (docs.jsonata.org, "Path Operators" / "Predicate
/// queries": a sequence of one value is that value, `[]` keeps it an
/// array), wherever the sequence starts: a path rooted at a variable (how
/// every Step Functions expression reads `$states`), a function that builds
/// a sequence (`$filter`, `$map`, `$keys`, `$range`), and never for a value
/// that is a JSON array to begin with.
#[test]
fn a_sequence_of_one_item_is_the_item_and_a_json_array_stays_an_array() {
    let states = json!({"input": {"items": [{"price": 5, "n": "a"}, {"price": 20, "n": "b"}, {"price": 30, "n": "c"}], "one": [7]}});
    let b = Bindings::new().with("states", states).with("list", json!([{"price": 20}]));
    let cases: &[(&str, Value)] = &[
        ("$states.input.items[price > 25]", json!({"price": 30, "n": "c"})),
        ("$states.input.items[price > 10]", json!([{"price": 20, "n": "b"}, {"price": 30, "n": "c"}])),
        ("$states.input.items[price > 25][]", json!([{"price": 30, "n": "c"}])),
        ("$states.input.items[price > 25].n", json!("c")),
        ("$states.input.items[n = 'a'].price", json!(5)),
        ("$list[price > 10]", json!({"price": 20})),
        ("$filter($states.input.items, function($v) { $v.price > 25 })", json!({"price": 30, "n": "c"})),
        ("$map($states.input.one, function($v) { $v * 2 })", json!(14)),
        ("$keys($states.input.items[0])", json!(["price", "n"])),
        ("$keys({'only': 1})", json!("only")),
        ("$range(1, 1, 1)", json!(1)),
        ("$range(3, 1, 1)", Value::Null),
        // A JSON array is no sequence: it stays an array, one item or not.
        ("$states.input.one", json!([7])),
        ("$list", json!([{"price": 20}])),
        ("[$states.input.items[price > 25]]", json!([{"price": 30, "n": "c"}])),
        ("$append([], 1)", json!([1])),
    ];
    for (expr, want) in cases {
        let got = Expression::parse(expr).unwrap().evaluate(&Value::Null, &b).unwrap();
        let want = if want.is_null() { None } else { Some(want.clone()) };
        assert_eq!(got, want, "{expr}");
    }
}
